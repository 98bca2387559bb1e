"""Predictive scoring with scikit-learn and LightGBM: encoding, training, calibration,
metrics and the stored artefact. Nothing here touches the database."""
