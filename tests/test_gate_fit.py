"""The shared gate's fit (benchmarks/gate_fit.py): the threshold chooser counts every shop alike
in each rate and chooses on probabilities of shops the score model was not fitted on; the
re-ranker is fitted on the choice between one query's candidates."""

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


def candidate_groups(rng: np.random.Generator, n: int, offset: float) -> tuple[list[np.ndarray], list[int]]:
    """`n` queries of five candidates; the right one is the best by 2·x0 − x1 plus noise, and every
    candidate of a query shares a random level of x0 (how close the whole query sits to the FAQ)."""
    groups, right = [], []
    for _ in range(n):
        x = rng.normal(size=(5, 2))
        x[:, 0] += offset * rng.normal()
        groups.append(x)
        right.append(int(np.argmax(2 * x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=5))))
    return groups, right


def test_the_reranker_is_fitted_on_differences_between_one_querys_candidates():
    rng = np.random.default_rng(7)
    groups, right = candidate_groups(rng, 600, offset=0.0)
    coef = gate_fit._listwise(groups, right, np.ones(len(groups)))
    assert coef[0] > 0 > coef[1]
    assert coef[0] / -coef[1] == pytest.approx(2.0, rel=0.25)
    test, truth = candidate_groups(rng, 400, offset=0.0)
    assert np.mean([int(np.argmax(g @ coef)) == r for g, r in zip(test, truth)]) > 0.85
    # A level every candidate of a query shares cannot change which one is right: with it added,
    # the choice between candidates is the same.
    shifted = [g + np.array([rng.normal() * 3, 0.0]) for g in groups]
    again = gate_fit._listwise(shifted, right, np.ones(len(groups)))
    assert again[0] / -again[1] == pytest.approx(coef[0] / -coef[1], rel=0.1)


def test_the_reranker_weighs_queries_as_told():
    # Two kinds of query disagree on which candidate is right; the fit follows the heavier kind.
    a = [np.array([[1.0], [0.0]])] * 50
    b = [np.array([[1.0], [0.0]])] * 50
    right = [0] * 50 + [1] * 50
    heavier_a = gate_fit._listwise(a + b, right, np.array([3.0] * 50 + [1.0] * 50))
    heavier_b = gate_fit._listwise(a + b, right, np.array([1.0] * 50 + [3.0] * 50))
    assert heavier_a[0] > 0 > heavier_b[0]
