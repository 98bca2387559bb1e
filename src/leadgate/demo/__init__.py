"""``leadgate demo``: a synthetic B2B world, generated from a seed and fed through the use cases.

``world`` builds the world (pure, deterministic); ``runner`` drives the real ingest,
profile and stage-change use cases with it, day by day.
"""
