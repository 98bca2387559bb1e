"""The rules' joint effect on conversion: a regularised Poisson regression of the daily
conversion rate on which rules had fired.

Each cell of ``leadgate.domain.rule_evidence.exposure_cells`` (an exposure pattern with
its lead-days and conversions) is one row: the rate ``conversions / days`` weighted by the
days, which is the Poisson likelihood with the days as exposure. The coefficients are
log rate ratios *with the other rules held fixed*, so a rule that only rides along with
stronger ones (engaged leads open emails and also ask for demos) gets little of their
credit. A light L2 penalty keeps rules that always fire together finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from leadgate.adapters.ml.algorithms import THREADS
from leadgate.domain.rule_evidence import Pattern

ALPHA = 1e-4  # L2 penalty on the mean Poisson deviance: light, it only breaks ties


def joint_lifts(cells: Mapping[Pattern, list[int]], width: int) -> list[float] | None:
    """Given the exposure cells of ``width`` subjects, return each subject's joint rate
    ratio (in the order of the patterns), or None when there are no conversions."""
    if not cells or width == 0:
        return None
    patterns = list(cells)
    days = np.asarray([cells[p][0] for p in patterns], dtype=np.float64)
    conversions = np.asarray([cells[p][1] for p in patterns], dtype=np.float64)
    if conversions.sum() == 0 or days.sum() == 0:
        return None
    from sklearn.linear_model import PoissonRegressor
    from threadpoolctl import threadpool_limits

    matrix = np.asarray(patterns, dtype=np.float64).reshape(len(patterns), width)
    keep = days > 0
    with threadpool_limits(THREADS):
        model = PoissonRegressor(alpha=ALPHA, max_iter=1000)
        model.fit(matrix[keep], conversions[keep] / days[keep], sample_weight=days[keep])
    return [math.exp(float(b)) for b in model.coef_]
