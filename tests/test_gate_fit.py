"""The shared gate's threshold chooser (benchmarks/gate_fit.py): every shop counts alike in each
rate, and the point is chosen on probabilities of shops the score model was not fitted on."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import gate_fit
from bot.drafting.gate import FEATURES


def rows(p_in: list[float], p_out: list[float]) -> tuple[gate_fit.ShopRows, np.ndarray]:
    """A shop whose in-scope questions all have the right entry first, and their probabilities."""
    n_in, n_out = len(p_in), len(p_out)
    inside = np.array([1] * n_in + [0] * n_out)
    shop = gate_fit.ShopRows(
        x=np.zeros((n_in + n_out, len(FEATURES))), y=inside.copy(), inside=inside,
        ruled=np.zeros(n_in + n_out, dtype=bool), sx=np.zeros((0, len(FEATURES))), sy=np.zeros(0, dtype=int),
    )
    return shop, np.array(p_in + p_out)


def mean_rates(shops, t: float) -> tuple[float, float]:
    right = np.mean([((p >= t) & (s.inside == 1)).sum() / (s.inside == 1).sum() for s, p in shops])
    handed = np.mean([((p < t) & (s.inside == 0)).sum() / (s.inside == 0).sum() for s, p in shops])
    return float(right), float(handed)


def test_every_shop_counts_alike_in_each_rate():
    # Shop A: three in-scope questions to one out-of-scope, all told apart at any threshold.
    # Shop B: one to three; at 0.6 two of its ten in-scope questions and three of its thirty
    # out-of-scope ones tie: a threshold above 0.6 costs it 0.2 of its answered rate, one at or
    # below 0.6 costs it 0.1 of its handed-off rate.
    a = rows([0.9] * 30, [0.3] * 10)
    b = rows([0.6] * 2 + [0.9] * 8, [0.6] * 3 + [0.3] * 27)
    shops = [a, b]
    p = np.concatenate([x[1] for x in shops])
    y = np.concatenate([x[0].y for x in shops])
    inside = np.concatenate([x[0].inside for x in shops])
    ruled = np.concatenate([x[0].ruled for x in shops])
    by_shop = gate_fit.best_threshold(p, y, inside, ruled, np.concatenate([x[0].rate_weight for x in shops]))
    by_size = gate_fit.best_threshold(p, y, inside, ruled, np.concatenate([x[0].weight for x in shops]))
    # Weighed by its share of questions, shop A's many in-scope ones make losing B's cheap; the
    # mean over shops of each rate is what the chooser promises (0.95 / 0.90 against 1.00 / 0.95).
    assert by_shop <= 0.6 < by_size
    assert min(mean_rates(shops, by_shop)) == pytest.approx(0.95)
    assert min(mean_rates(shops, by_size)) == pytest.approx(0.90)


def test_an_unknown_way_of_choosing_is_a_clear_error():
    shop, _ = rows([0.9], [0.1])
    with pytest.raises(SystemExit, match="loso or in"):
        gate_fit.choose_threshold([shop], np.zeros(len(FEATURES)), 0.0, gate_fit.Prior(), "median")
