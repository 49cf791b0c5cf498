"""Fit the gate's shared parts on many shops: the top-five re-ranker (listwise: a softmax over each
query's five candidates), the score model, the reference points each shop's own scale is measured
against, and the threshold.

    .venv/bin/python benchmarks/gate_fit.py SHOP [SHOP ...] [--tea] [--write]

Shops are given as to `gate_shops.py` (folders with knowledge/ and questions.tsv). Every shop
weighs the same whatever its number of questions (the tea shop has thirty sets). Without
`--write` it prints the leave-one-shop-out figures at the level of single searches (each shop
scored by parts fitted without it; `gate_shops.py --loso` measures the same through plan_reply);
with `--write` the parts fitted on all shops go to bot/drafting/gate_calibration.json.

Per shop, besides its labelled questions, the FAQ's own simulated questions are collected as the
product collects them on sync (`bot.drafting.calibration.simulate`); their scores give the shared
reference points (`Prior.near_miss`, `Prior.in_scope`), and `beta_shift` / `beta_scale` (how far a
shop's own scale moves away from the shared one) are chosen on leave-one-shop-out figures.

The threshold maximises the worse of the two rates (in-scope answered with the right entry,
out-of-scope handed off), each the mean over shops, on probabilities of each shop from a score
model fitted without it (`--threshold loso`, the default; `in` chooses on the fitted model's own
probabilities, as before): the point is chosen for a shop the fit has not seen.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bot.drafting.calibration import (  # noqa: E402
    Example,
    FaqMemory,
    ShopCalibration,
    faq_stamp,
    from_examples,
    refit,
    simulate,
)
from bot.drafting.gate import (  # noqa: E402
    CALIBRATION,
    FEATURES,
    MORE_IS_BETTER,
    MORE_IS_WORSE,
    Gate,
    Prior,
    features,
    rule_out,
)
from bot.drafting.rerank import CANDIDATE_FEATURES, Reranker, candidate_features  # noqa: E402
from bot.knowledge.entries import Hit  # noqa: E402
from bot.knowledge.normalize import normalize_message  # noqa: E402

VERSION = "2"


@dataclass
class ShopData:
    name: str
    real: list[tuple[str, list[Hit], str, bool]] = field(default_factory=list)  # query, hits, expected, in scope
    sim: list = field(default_factory=list)  # calibration.simulate's questions
    ruled: dict[tuple[str, str], bool] = field(default_factory=dict)


_collected: dict[str, ShopData] = {}


def collect(shop) -> ShopData:  # type: ignore[no-untyped-def]
    if shop.name in _collected:
        return _collected[shop.name]
    from gate_shops import use_rules_of

    use_rules_of(shop)  # retrieval's topic cues and the rules read the shop's own file too
    data = ShopData(shop.name)
    for label, expected, question in shop.rows:
        query = normalize_message(question)
        hits = shop.search(query, 5)
        if hits:
            data.real.append((query, hits, expected, label == "in"))
    memory = FaqMemory.of(shop.kb)
    data.sim = simulate(memory, faq_stamp(shop.kb.lexical))
    data.lexical = shop.kb.lexical  # type: ignore[attr-defined]
    data.memory = memory  # type: ignore[attr-defined]
    _collected[shop.name] = data
    return data


def _copy(hits: list[Hit]) -> list[Hit]:
    return [Hit(**{**vars(h), "extra": dict(h.extra)}) for h in hits]


def _logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float = 1.0) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised features, returned on the raw ones."""
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit((x - mean) / std, y, sample_weight=w)
    coef = model.coef_[0] / std
    return coef, float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())


# Features left out of the fit (weight 0), for ablations: GATE_FIT_DROP=topic,query_len
DROPPED = tuple(f for f in os.environ.get("GATE_FIT_DROP", "").split(",") if f)


def _signed_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, names: tuple[str, ...],
                     c: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression on standardised features with sign bounds, on the raw ones."""
    from scipy.optimize import minimize

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / std
    w = w / w.sum() * len(w)
    bounds = [(0, 0) if n in DROPPED else (0, None) if n in MORE_IS_BETTER else (None, 0) if n in MORE_IS_WORSE
              else (None, None) for n in names]
    bounds.append((None, None))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        m = z @ theta[:-1] + theta[-1]
        p = 1 / (1 + np.exp(-np.clip(m, -30, 30)))
        value = float((w * (np.logaddexp(0, m) - y * m)).sum() + 0.5 / c * (theta[:-1] ** 2).sum())
        g = w * (p - y)
        grad = np.append(z.T @ g + theta[:-1] / c, g.sum())
        return value, grad

    theta = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    coef = theta[:-1] / std
    return coef, float(theta[-1] - (theta[:-1] * mean / std).sum())


def _listwise(groups: list[np.ndarray], right: list[int], w: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Conditional logit on standardised features (a softmax over each query's candidates, the
    right one's log-probability maximised, L2-penalised), returned on the raw ones. There is no
    intercept: only differences between one query's candidates count."""
    from scipy.optimize import minimize

    flat = np.vstack(groups)
    mean, std = flat.mean(axis=0), flat.std(axis=0) + 1e-9
    z = (flat - mean) / std
    starts = np.cumsum([0, *(len(g) for g in groups)])[:-1]
    owner = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    picked = starts + np.asarray(right)
    w = w / w.sum() * len(w)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ theta
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[owner])
        total = np.add.reduceat(e, starts)
        p = e / total[owner]
        value = float((w * (np.log(total) + top - s[picked])).sum() + 0.5 / c * theta @ theta)
        # d/dtheta of log-sum-exp minus the right one's score, each query weighed by w
        expected = np.add.reduceat(p[:, None] * z, starts)
        grad = (w[:, None] * (expected - z[picked])).sum(axis=0) + theta / c
        return value, grad

    theta = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return theta / std


def rerank_loso(rows: dict[str, list[tuple[np.ndarray, np.ndarray]]], idx: list[int]) -> tuple[int, int, float]:
    """Each shop but tea re-ranked by a listwise fit (as `fit_reranker`) on the other shops' rows,
    columns `idx`: questions with the right entry first, questions, the lowest shop's rate.
    A row is (candidates × features, 1 for the right candidate)."""
    right = n = 0
    lowest = 1.0
    for k in rows:
        if k.startswith("tea"):
            continue
        xs, ys, ws = [], [], []
        for j, qs in rows.items():
            if j != k:
                for x, y in qs:
                    xs.append(x[:, idx]); ys.append(int(np.argmax(y))); ws.append(1.0 / len(qs))
        coef = _listwise(xs, ys, np.array(ws))
        got = sum(int(y[np.argmax(x[:, idx] @ coef)] == 1) for x, y in rows[k])
        right, n = right + got, n + len(rows[k])
        lowest = min(lowest, got / max(len(rows[k]), 1))
    return right, n, lowest


def fit_reranker(shops: list[ShopData]) -> Reranker:
    """Fitted listwise: for each in-scope question with its right entry among the five, the
    probability that a softmax over the five gives the right one. The re-ranker only ever
    chooses among one query's candidates, and a per-candidate logistic (answering "is this one
    right?" for each alone) spent its fit on the levels that differ between queries: leave one
    shop out over 24 shops, right entry first among those with it in the five went from 0.909 to
    0.922 (benchmarks/README.md, "### Fitted on 25 shops")."""
    groups, right, ws = [], [], []
    for data in shops:
        rows = [(q, h, e) for q, h, e, inside in data.real if inside and e in [x.question for x in h]]
        for query, hits, expected in rows:
            values = candidate_features(query, hits, data.lexical)  # type: ignore[attr-defined]
            groups.append(np.array([[v[f] for f in CANDIDATE_FEATURES] for v in values]))
            right.append([x.question for x in hits].index(expected))
            ws.append(1.0 / max(len(rows), 1))  # every shop weighs the same
    coef = _listwise(groups, right, np.array(ws))
    return Reranker({f: round(float(c), 6) for f, c in zip(CANDIDATE_FEATURES, coef)}, 0.0)


def _gate_rows(gate: Gate, data: ShopData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows of real questions after the re-rank: x, label (top is right), in scope, ruled."""
    xs, ys, inside, ruled = [], [], [], []
    for query, hits, expected, is_in in data.real:
        ordered = gate.order(query, _copy(hits), data.lexical)  # type: ignore[attr-defined]
        values = features(query, ordered, data.lexical)  # type: ignore[attr-defined]
        key = (query, ordered[0].id)
        if key not in data.ruled:
            data.ruled[key] = rule_out(query, ordered[0], data.lexical) is not None  # type: ignore[attr-defined]
        xs.append([values[f] for f in FEATURES])
        ys.append(int(is_in and ordered[0].question == expected))
        inside.append(int(is_in))
        ruled.append(data.ruled[key])
    return np.array(xs), np.array(ys), np.array(inside), np.array(ruled, dtype=bool)


SIM_WEIGHT = 0.5


def _sim_rows(gate: Gate, data: ShopData) -> list[tuple[list[float], int]]:
    rows = []
    for text, hits, entry_id, view in data.sim:
        ordered = gate.order(text, _copy(hits), view)
        values = features(text, ordered, view)
        rows.append(([values[f] for f in FEATURES], int(entry_id is not None and ordered[0].id == entry_id)))
    return rows


def _sim_examples(gate: Gate, data: ShopData) -> list[Example]:
    from bot.drafting.calibration import scored

    return scored(gate, data.sim)


def best_threshold(p: np.ndarray, y: np.ndarray, inside: np.ndarray, ruled: np.ndarray, w: np.ndarray) -> float:
    """Maximise min(answered right on in-scope, handed off on out-of-scope); `w` weighs the rows
    (ShopRows.rate_weight: every shop alike in each rate)."""
    best_t, best_v = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        answered = (p >= t) & ~ruled
        right = (w * (answered & (y == 1) & (inside == 1))).sum() / (w * (inside == 1)).sum()
        handed = (w * (~answered & (inside == 0))).sum() / (w * (inside == 0)).sum()
        if min(right, handed) > best_v:
            best_t, best_v = float(t), min(right, handed)
    return best_t


@dataclass
class ShopRows:
    """One shop's feature rows under a fixed re-ranker: its labelled questions (x, label,
    in scope, ruled out) and its FAQ's simulated questions (sx, slabel)."""

    x: np.ndarray
    y: np.ndarray
    inside: np.ndarray
    ruled: np.ndarray
    sx: np.ndarray
    sy: np.ndarray

    @property
    def weight(self) -> np.ndarray:
        """For the fit: every shop weighs the same whatever its number of questions."""
        return np.full(len(self.y), 1000.0 / max(len(self.y), 1))

    @property
    def rate_weight(self) -> np.ndarray:
        """For the threshold: every shop's in-scope questions weigh the same in the answered rate,
        and its out-of-scope ones in the handed-off rate. With `weight` a shop weighed by its
        share of each kind: shops with three in-scope questions to one out-of-scope (those written
        the way a new shop's are) counted three times as much in the answered rate as in the
        handed-off one, and the chosen point left the mean over shops unbalanced."""
        n_in, n_out = max(int(self.inside.sum()), 1), max(int((self.inside == 0).sum()), 1)
        return np.where(self.inside == 1, 1.0 / n_in, 1.0 / n_out)


def shop_rows(gate: Gate, data: ShopData) -> ShopRows:
    x, y, inside, ruled = _gate_rows(gate, data)
    sim = _sim_rows(gate, data)
    sx = np.array([r[0] for r in sim]) if sim else np.zeros((0, len(FEATURES)))
    return ShopRows(x, y, inside, ruled, sx, np.array([r[1] for r in sim], dtype=int))


def fit_score(rows: list[ShopRows], betas: tuple[float, float]) -> tuple[np.ndarray, float, Prior]:
    """The shared score model and its reference points, fitted on these shops' rows."""
    fx = [r.x[~r.ruled] for r in rows]
    fy = [r.y[~r.ruled] for r in rows]
    fw = [r.weight[~r.ruled] for r in rows]
    # The FAQs' own simulated questions too (half a shop's weight each): near misses and other
    # wordings in every shop's vocabulary, not only what the question sets' writers chose to ask.
    for r in rows:
        if len(r.sy):
            fx.append(r.sx)
            fy.append(r.sy)
            fw.append(np.full(len(r.sy), SIM_WEIGHT * 1000.0 / len(r.sy)))
    coef, bias = _signed_logistic(np.vstack(fx), np.concatenate(fy), np.concatenate(fw), FEATURES)
    # The shared reference points: where the FAQs' own simulated questions score, on average.
    scores = [(r.sx @ coef + bias, r.sy) for r in rows]
    near = float(np.mean([np.median(s[y == 0]) for s, y in scores if (y == 0).any()]))
    inside = float(np.mean([np.median(s[y == 1]) if (y == 1).any() else 0.0 for s, y in scores]))
    prior = Prior(near_miss=round(near, 4), in_scope=round(inside, 4), beta_shift=betas[0],
                  beta_scale=betas[1], version=VERSION)
    return coef, bias, prior


def feature_scale(rows: list[ShopRows]) -> dict[str, float]:
    """Each feature's spread over the rows the score model is fitted on (the units its fit
    standardises by): a shop's re-fit on staff decisions measures its own weights' move in them."""
    x = np.vstack([r.x[~r.ruled] for r in rows] + [r.sx for r in rows if len(r.sy)])
    return {f: round(float(v), 6) for f, v in zip(FEATURES, x.std(axis=0))}


def probabilities(r: ShopRows, coef: np.ndarray, bias: float, prior: Prior) -> np.ndarray:
    """The shop's labelled questions' calibrated probabilities, the shop on its own scale."""
    sim = [Example(float(s), int(y)) for s, y in zip(r.sx @ coef + bias, r.sy)]
    cal = from_examples(sim, Gate(weights={}, bias=0.0, threshold=0.5, prior=prior), "")
    return 1 / (1 + np.exp(-np.clip(cal.logit(r.x @ coef + bias), -60, 60)))


# Where the threshold is chosen: "loso" on each training shop's probabilities from a score model
# fitted without it (what a shop nobody fitted on gets), "in" on the fitted model's own
# probabilities of the shops it was fitted on (the previous chooser; for comparison).
THRESHOLD = os.environ.get("GATE_FIT_THRESHOLD", "loso")


def choose_threshold(rows: list[ShopRows], coef: np.ndarray, bias: float, prior: Prior,
                     how: str = "") -> float:
    how = how or THRESHOLD
    if how not in ("loso", "in"):
        raise SystemExit(f"GATE_FIT_THRESHOLD must be loso or in, not {how!r}")
    if how == "in" or len(rows) < 3:
        ps = [probabilities(r, coef, bias, prior) for r in rows]
    else:
        # In-sample probabilities flatter the shops the model was fitted on: their in-scope
        # questions score higher than a new shop's, so a threshold chosen on them hands off too
        # many of a new shop's answerable questions. The re-ranker stays the one fitted on all.
        ps = []
        for k, r in enumerate(rows):
            c, b, p = fit_score([o for j, o in enumerate(rows) if j != k], (prior.beta_shift, prior.beta_scale))
            ps.append(probabilities(r, c, b, p))
    return best_threshold(np.concatenate(ps), np.concatenate([r.y for r in rows]),
                          np.concatenate([r.inside for r in rows]), np.concatenate([r.ruled for r in rows]),
                          np.concatenate([r.rate_weight for r in rows]))


def fit_shared(shops, betas: tuple[float, float] | None = None, threshold: str = "") -> Gate:  # type: ignore[no-untyped-def]
    """Every shared part fitted on `shops` (Shop objects of gate_shops, or ShopData)."""
    datas = [s if isinstance(s, ShopData) else collect(s) for s in shops]
    reranker = fit_reranker(datas)
    gate = Gate(weights={}, bias=0.0, threshold=0.5, reranker=reranker)
    rows = [shop_rows(gate, d) for d in datas]
    coef, bias, prior = fit_score(rows, betas if betas is not None else (0.5, 0.0))
    # The threshold on calibrated probabilities, each shop on its own scale.
    t = choose_threshold(rows, coef, bias, prior, threshold)
    return replace(gate, weights={f: round(float(c), 6) for f, c in zip(FEATURES, coef)}, bias=round(bias, 6),
                   prior=prior, threshold=round(t, 4), feature_scale=feature_scale(rows))


def loso_gate(shop, gate: Gate) -> Gate:  # type: ignore[no-untyped-def]
    """`gate` on this shop's own scale, as shop_gate would give it."""
    from gate_shops import use_rules_of

    from bot.drafting.calibration import calibrate

    use_rules_of(shop)

    return gate.for_shop(calibrate(FaqMemory.of(shop.kb), gate, faq_stamp(shop.kb.lexical) + gate.fingerprint))


def example_rates(gate: Gate, data: ShopData) -> tuple[float, float, float]:
    """Top-1 after the re-rank, answered right, handed off: single searches, no clause splitting."""
    x, y, inside, ruled = _gate_rows(gate, data)
    cal = from_examples(_sim_examples(gate, data), gate, "") if gate.prior.version else None
    z = x @ np.array([gate.weights.get(f, 0.0) for f in FEATURES]) + gate.bias
    p = 1 / (1 + np.exp(-np.clip(cal.logit(z) if cal else z, -60, 60)))
    answered = (p >= gate.threshold) & ~ruled
    top1 = sum(int(is_in and gate.order(q, _copy(h), data.lexical)[0].question == e)  # type: ignore[attr-defined]
               for q, h, e, is_in in data.real) / max(inside.sum(), 1)
    return top1, (answered & (y == 1)).sum() / max(inside.sum(), 1), (~answered & (inside == 0)).sum() / max((inside == 0).sum(), 1)


def with_feedback(shop, taught, measured, measure, base: Gate | None = None):  # type: ignore[no-untyped-def]
    """Replay `taught` rows as staff decisions on a copy of the shop's index — an in-scope
    question approved with its right entry (a learned phrasing and a labelled example), an
    out-of-scope one rejected (a labelled example) — then measure `measured` rows with the
    gate `ask` would use next (see gate_shops.py). `base` is the shared gate (the shipped one
    when None; a gate fitted without this shop for leave one shop out)."""
    from gate_shops import Shop

    from bot.drafting.calibration import shop_gate
    from bot.drafting.gate import default_gate

    with taught_index(shop, taught) as (kb, decisions):
        taught_shop = Shop(shop.name, shop.knowledge, measured, kb=kb)
        return measure(taught_shop, shop_gate(kb, base or default_gate(), decisions), measured)


@contextlib.contextmanager
def taught_index(shop, taught):  # type: ignore[no-untyped-def]
    """A copy of the shop's index with `taught` rows replayed as staff decisions (learned
    phrasings added) and the decisions as the database would list them. For ablations,
    GATE_FEEDBACK names the parts kept (default learned,refit,weights): `learned` the phrasings,
    `refit` the decisions (shift, scale, memory), `weights` the shop's own feature weights."""
    import shutil
    import tempfile

    from gate_shops import use_rules_of

    from bot.config import Settings
    from bot.knowledge.base import KnowledgeBase
    from bot.memory.learned import LabelledQuestion

    use_rules_of(shop)
    by_question = {str(m["question"]): e for e, m in shop.kb.lexical.entries.items()}
    work = Path(tempfile.mkdtemp(prefix="dx-feedback-"))
    try:
        shutil.copytree(shop.kb.settings.data_dir, work / "data")
        settings = Settings(data_dir=work / "data", knowledge_dir=shop.kb.settings.knowledge_dir, _env_file=None)
        kb = KnowledgeBase(settings, embedder=shop.kb.embedder)
        decisions, phrasings = [], {}
        for n, (label, expected, question) in enumerate(taught):
            entry_id = by_question.get(expected) if label == "in" else None
            if label == "in" and entry_id is None:
                continue  # an expected question the FAQ does not have: a bad row, not a decision
            decisions.append(LabelledQuestion(question, entry_id, "approved" if entry_id else "rejected"))
            if entry_id:
                phrasings[f"{entry_id}:L{n + 1}"] = (entry_id, normalize_message(question))
        parts = os.environ.get("GATE_FEEDBACK", "learned,refit,weights").split(",")  # for ablations
        if "learned" in parts:
            kb.add_learned(phrasings)
        from bot.drafting import calibration

        was = calibration.FEATURE_REFIT
        calibration.FEATURE_REFIT = "weights" in parts
        try:
            yield kb, (decisions if "refit" in parts else [])
        finally:
            calibration.FEATURE_REFIT = was
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write(gate: Gate, names: list[str]) -> None:
    payload = {
        "weights": gate.weights,
        "bias": gate.bias,
        "threshold": gate.threshold,
        "rerank": {"weights": gate.reranker.weights, "bias": gate.reranker.bias} if gate.reranker else None,
        "prior": vars(gate.prior),
        "feature_scale": gate.feature_scale,
        "fitted_on": {"shops": names, "command": "python benchmarks/gate_fit.py " + " ".join(sys.argv[1:])},
    }
    CALIBRATION.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    from gate_shops import opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--loso", action="store_true", help="print leave-one-shop-out figures per betas")
    parser.add_argument("--betas", default="0.5,0", help="beta_shift,beta_scale[;...]; the first is written")
    parser.add_argument("--threshold", default=THRESHOLD,
                        help="where the threshold is chosen: loso (on out-of-shop probabilities, the default) or in "
                             "(in-sample); with --loso a comma-separated list is compared, the first is written")
    args = parser.parse_args()
    with opened_shops(args.shops, tea=args.tea) as (shops, _):
        datas = [collect(s) for s in shops]
    hows = args.threshold.split(",")
    for beta, how in [(b, h) for b in args.betas.split(";") for h in hows] if args.loso else []:
        b = tuple(float(v) for v in beta.split(","))
        rows = []
        for k, data in enumerate(datas):
            gate = fit_shared([d for j, d in enumerate(datas) if j != k], b, how)  # type: ignore[arg-type]
            rows.append((*example_rates(gate, data), gate.threshold))
        r = np.array(rows)
        print(f"betas {b}, threshold {how}: leave-one-shop-out mean top-1 {r[:, 0].mean():.3f}, "
              f"answered right {r[:, 1].mean():.3f}, handed off {r[:, 2].mean():.3f}; "
              f"lowest {r[:, 1].min():.3f} / {r[:, 2].min():.3f}")
        blind = np.array([row for data, row in zip(datas, rows) if data.name.startswith("blind")])
        if len(blind):
            print(f"  helper-written shops (blind*), mean: answered right {blind[:, 1].mean():.3f}, "
                  f"handed off {blind[:, 2].mean():.3f}")
        print("  per shop: top-1, answered right, handed off, threshold")
        for data, row in zip(datas, rows):
            print(f"  {data.name}: {row[0]:.3f} {row[1]:.3f} {row[2]:.3f} {row[3]:.2f}")
    if args.write:
        b = tuple(float(v) for v in args.betas.split(";")[0].split(","))
        write(fit_shared(datas, b, hows[0]), [d.name for d in datas])  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
