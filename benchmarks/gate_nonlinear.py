"""Does a small non-linear model put the right entry first more often, or separate answerable
from out-of-scope better, on a shop it never saw? Offline, leave one shop out.

    .venv/bin/python benchmarks/gate_nonlinear.py SHOP [SHOP ...] [--tea]
        [--rerank VARIANT ...] [--gate SPEC ...]

The shipped re-ranker (`bot/drafting/rerank.py`) is a linear score over `CANDIDATE_FEATURES`,
fitted listwise (`gate_fit.fit_reranker`: a softmax over each query's five); the shipped gate score
a sign-bounded logistic over `gate.FEATURES`. Both read the hits as the product's current search
gives them (`sentence` included). Re-ranker variants (`--rerank`), each fitted for every held-out
shop on the other shops' in-scope questions with their right entry among the five, every shop
weighing the same:

* `lin`: the shipped fit (`gate_fit._listwise`);
* `pairs`: the same listwise fit with `PAIRS` (products of the strongest signals) added;
* `hgbN`: pointwise monotone gradient-boosted trees (N trees of depth 3, sklearn's
  HistGradientBoostingClassifier, "is this candidate the right one?") over the candidate
  features, which are already read against the query's leader (`*_gap`), scored within each query;
* `boostN`: listwise boosting (LambdaMART-style, softmax loss instead of LambdaRank's): the
  shipped linear fit as the starting score, then N depth-3 regression trees, each a Newton step
  on the softmax loss over each query's candidates, with the same monotone signs;
  `treesN` the same from a zero start (trees only).

Printed per pool (19 helper-written `blind*`, 13 `heldout_*`, tea): right entry first over ALL the
pool's in-scope questions (not in the five counts as missed), the questions won and lost against
`lin`, and the lowest shop; then what each model costs per `ask` when evaluated in numpy alone
(the trees exported to arrays; the export is checked against sklearn's own predictions).

`--gate SPEC ...` scores the gate the same way on `gate_ablate.py`'s rows (shipped re-ranker's
order, 17 current features; `lin:` the shipped sign-bounded logistic, `hgbN:` monotone boosted
trees; threshold chosen on the training shops, no per-shop scale): answered with the right entry /
out-of-scope handed off per pool, mean held-out AUC over the pool's shops, lowest shop.

Stores come from `gate_shops.py`'s cache (`$TMPDIR/dianxiaoer-gate/`). Nothing in `bot/` changes.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gate_ablate as ga  # noqa: E402
import gate_fit as gf  # noqa: E402
from bot.drafting.gate import default_gate  # noqa: E402
from bot.drafting.rerank import CANDIDATE_FEATURES, candidate_features  # noqa: E402

POOLS = (("19 helper-written blind*", "blind"), ("13 heldout_*", "heldout"), ("tea", "tea"))

# Monotone signs for the trees: more closeness, coverage or topic agreement may only speak for a
# candidate. `idf_phrasings` (negative in the shipped linear fit, given `idf_entry`), `learned`
# and `first` are left free.
SIGNS = {f: 1 for f in ("dense", "dense_gap", "passage", "passage_gap", "fused_gap", "lexical_gap",
                        "idf_entry", "idf_gap", "topic", "sentence", "sentence_gap")}
# Products for the `pairs` variant: the strongest linear signals, each against the others.
PAIRS = (("dense_gap", "passage_gap"), ("dense_gap", "sentence_gap"), ("passage_gap", "sentence_gap"),
         ("dense_gap", "idf_gap"), ("passage_gap", "idf_gap"), ("sentence_gap", "idf_gap"),
         ("topic", "idf_gap"), ("dense", "dense_gap"))


def pool_of(name: str) -> str:
    return "tea" if name == "tea" else "blind" if name.startswith("blind") else "heldout"


@dataclass
class Groups:
    """One shop's re-rank rows: per in-scope question with its right entry among the five, the
    candidates' features and the right one's index."""

    name: str
    in_scope: int
    groups: list[np.ndarray] = field(default_factory=list)
    right: list[int] = field(default_factory=list)


def shop_groups(shop, data) -> Groups:  # type: ignore[no-untyped-def]
    out = Groups(data.name, sum(1 for label, _e, _q in shop.rows if label == "in"))
    for query, hits, expected, inside in data.real:
        names = [h.question for h in hits]
        if inside and expected in names:
            rows = candidate_features(query, hits, data.lexical)
            out.groups.append(np.array([[r[f] for f in CANDIDATE_FEATURES] for r in rows]))
            out.right.append(names.index(expected))
    return out


def with_pairs(x: np.ndarray) -> np.ndarray:
    i = {f: k for k, f in enumerate(CANDIDATE_FEATURES)}
    return np.hstack([x, np.column_stack([x[:, i[a]] * x[:, i[b]] for a, b in PAIRS])])


@dataclass
class Flat:
    """Training queries stacked: rows, the query each row belongs to, the right rows, weights."""

    x: np.ndarray
    owner: np.ndarray
    starts: np.ndarray
    picked: np.ndarray
    w: np.ndarray  # per query; every shop sums to the same

    @classmethod
    def of(cls, shops: list[Groups]) -> Flat:
        groups, right, w = [], [], []
        for s in shops:
            groups += s.groups
            right += s.right
            w += [1.0 / max(len(s.groups), 1)] * len(s.groups)
        sizes = [len(g) for g in groups]
        starts = np.cumsum([0, *sizes])[:-1]
        w_arr = np.array(w)
        return cls(np.vstack(groups), np.repeat(np.arange(len(groups)), sizes), starts,
                   starts + np.array(right), w_arr / w_arr.mean())

    @property
    def y(self) -> np.ndarray:
        y = np.zeros(len(self.x))
        y[self.picked] = 1.0
        return y

    def softmax(self, s: np.ndarray) -> np.ndarray:
        top = np.maximum.reduceat(s, self.starts)
        e = np.exp(s - top[self.owner])
        return e / np.add.reduceat(e, self.starts)[self.owner]


# A scorer maps one query's candidate rows (n × CANDIDATE_FEATURES) to a score per candidate.


def fit_lin(flat: Flat, shops: list[Groups]):  # type: ignore[no-untyped-def]
    coef = gf._listwise([g for s in shops for g in s.groups], [r for s in shops for r in s.right],
                        np.array([1.0 / len(s.groups) for s in shops for _ in s.groups]))
    return Linear(coef, pairs=False)


def fit_pairs(flat: Flat, shops: list[Groups]):  # type: ignore[no-untyped-def]
    coef = gf._listwise([with_pairs(g) for s in shops for g in s.groups], [r for s in shops for r in s.right],
                        np.array([1.0 / len(s.groups) for s in shops for _ in s.groups]))
    return Linear(coef, pairs=True)


@dataclass
class Linear:
    coef: np.ndarray
    pairs: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (with_pairs(x) if self.pairs else x) @ self.coef


@dataclass
class Forest:
    """Trees as flat arrays, evaluated in numpy alone (what the product would ship): a node goes
    left when x[feature] <= threshold; a leaf points to itself."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int
    base: float = 0.0
    scale: float = 1.0
    linear: Linear | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            go_left = x[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        out = self.base + self.scale * self.value[node].sum(axis=1)
        return out + self.linear(x) if self.linear is not None else out

    @classmethod
    def join(cls, trees: list[tuple[np.ndarray, ...]], **kw) -> Forest:  # type: ignore[no-untyped-def]
        """`trees`: (feature, threshold, left, right, value, is_leaf) per tree, children as
        indexes within the tree."""
        parts, roots, offset, depth = [], [], 0, 0
        for feature, threshold, left, right, value, leaf in trees:
            n = len(feature)
            own = np.arange(n) + offset
            parts.append((np.where(leaf, 0, feature), np.where(leaf, np.inf, threshold),
                          np.where(leaf, own, left + offset), np.where(leaf, own, right + offset), value))
            roots.append(offset)
            depth = max(depth, _depth(left, right, leaf))
            offset += n
        f, t, lft, rgt, v = (np.concatenate(p) for p in zip(*parts))
        return cls(f.astype(np.int64), t.astype(np.float64), lft.astype(np.int64), rgt.astype(np.int64),
                   v.astype(np.float64), np.array(roots), depth, **kw)


def _depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    best, todo = 0, [(0, 0)]
    while todo:
        node, d = todo.pop()
        if leaf[node]:
            best = max(best, d)
        else:
            todo += [(int(left[node]), d + 1), (int(right[node]), d + 1)]
    return best


def signs() -> list[int]:
    return [SIGNS.get(f, 0) for f in CANDIDATE_FEATURES]


def fit_hgb(flat: Flat, shops: list[Groups], n: int) -> Forest:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=n, max_depth=3, learning_rate=0.05, monotonic_cst=signs(),
                                           min_samples_leaf=40, l2_regularization=1.0, early_stopping=False)
    model.fit(flat.x, flat.y, sample_weight=flat.w[flat.owner])
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        trees.append((nodes["feature_idx"], nodes["num_threshold"], nodes["left"], nodes["right"],
                      nodes["value"], nodes["is_leaf"].astype(bool)))
    forest = Forest.join(trees, base=float(model._baseline_prediction.ravel()[0]))
    probe = flat.x[:: max(len(flat.x) // 500, 1)]
    if not np.allclose(forest(probe), model.decision_function(probe), atol=1e-6):
        raise SystemExit("the numpy export of the boosted trees disagrees with sklearn")
    return forest


def fit_boost(flat: Flat, shops: list[Groups], n: int, start: bool) -> Forest:
    """Listwise boosting: Newton steps on the softmax loss over each query's candidates (LogitBoost
    form: each tree fits gradient / hessian with weight hessian, so its leaf is the Newton step
    and sklearn's monotone constraint holds on it)."""
    from sklearn.tree import DecisionTreeRegressor

    linear = fit_lin(flat, shops) if start else None
    score = linear(flat.x) if linear is not None else np.zeros(len(flat.x))
    y, wq, rate, trees = flat.y, flat.w[flat.owner], 0.1, []
    for _ in range(n):
        p = flat.softmax(score)
        h = np.maximum(p * (1 - p), 1e-4)
        target = np.clip((y - p) / h, -4, 4)
        tree = DecisionTreeRegressor(max_depth=3, min_samples_leaf=40, monotonic_cst=signs())
        tree.fit(flat.x, target, sample_weight=wq * h)
        t = tree.tree_
        trees.append((t.feature, t.threshold, t.children_left, t.children_right, t.value[:, 0, 0],
                      t.children_left < 0))
        score = score + rate * tree.predict(flat.x)
    forest = Forest.join(trees, scale=rate, linear=linear)
    if not np.allclose(forest(flat.x[:500]), score[:500], atol=1e-6):
        raise SystemExit("the numpy export of the listwise trees disagrees with sklearn")
    return forest


def fitter(variant: str):  # type: ignore[no-untyped-def]
    if variant == "lin":
        return fit_lin
    if variant == "pairs":
        return fit_pairs
    for prefix in ("hgb", "boost", "trees"):
        if variant.startswith(prefix) and variant[len(prefix):].isdigit():
            n = int(variant[len(prefix):])
            if prefix == "hgb":
                return lambda flat, shops: fit_hgb(flat, shops, n)
            return lambda flat, shops: fit_boost(flat, shops, n, start=prefix == "boost")
    raise SystemExit(f"unknown re-rank variant {variant!r}: lin, pairs, hgbN, boostN or treesN")


def rerank_loso(shops: list[Groups], variants: list[str]) -> None:
    firsts: dict[str, dict[str, np.ndarray]] = {}
    cost: dict[str, float] = {}
    for variant in variants:
        fit = fitter(variant)
        firsts[variant] = {}
        started = time.perf_counter()
        for k, held in enumerate(shops):
            train = [s for j, s in enumerate(shops) if j != k]
            model = fit(Flat.of(train), train)
            firsts[variant][held.name] = np.array(
                [int(np.argmax(model(g))) == r for g, r in zip(held.groups, held.right)], dtype=bool)
        took = time.perf_counter() - started
        cost[variant] = serve_cost(model, shops)
        print(f"{variant}: fitted {len(shops)} times in {took:.0f} s; {cost[variant] * 1000:.3f} ms per query's "
              f"five in numpy", flush=True)
    print("\nRight entry first, pooled over each pool's in-scope questions (won / lost against lin; lowest shop):")
    print("| re-ranker | " + " | ".join(f"{title} ({sum(s.in_scope for s in shops if pool_of(s.name) == p)})"
                                       for title, p in POOLS) + " |")
    print("|---|" + "---|" * len(POOLS))
    base = firsts.get("lin")
    for variant in variants:
        cells = []
        for _title, pool in POOLS:
            mine = [s for s in shops if pool_of(s.name) == pool]
            if not mine:
                cells.append("")
                continue
            got = sum(int(firsts[variant][s.name].sum()) for s in mine)
            rate = got / sum(s.in_scope for s in mine)
            low = min((int(firsts[variant][s.name].sum()) / s.in_scope, s.name) for s in mine)
            moved = ""
            if base is not None and variant != "lin":
                won = sum(int((firsts[variant][s.name] & ~base[s.name]).sum()) for s in mine)
                lost = sum(int((~firsts[variant][s.name] & base[s.name]).sum()) for s in mine)
                up = sum(int(firsts[variant][s.name].sum() > base[s.name].sum()) for s in mine)
                down = sum(int(firsts[variant][s.name].sum() < base[s.name].sum()) for s in mine)
                moved = f" +{won} −{lost}, {up} shops up {down} down;"
            cells.append(f"{rate:.4f} ({got};{moved} lowest {low[1]} {low[0]:.3f})" if len(mine) > 1
                         else f"{rate:.4f} ({got};{moved.rstrip(';')})")
        print(f"| {variant} | " + " | ".join(cells) + " |", flush=True)


def serve_cost(model, shops: list[Groups], n: int = 2000) -> float:  # type: ignore[no-untyped-def]
    """Seconds per query to score its five candidates with `model` (numpy only; the candidate
    features themselves are the product's and cost the same for every variant)."""
    groups = [g for s in shops for g in s.groups][:n]
    started = time.perf_counter()
    for g in groups:
        model(g)
    return (time.perf_counter() - started) / len(groups)


def gate_loso(rows: dict[str, dict], specs: list[str]) -> None:  # type: ignore[type-arg]
    """gate_ablate.loso's procedure, printed per pool."""
    from sklearn.metrics import roc_auc_score

    print("\nGate, answered with the right entry / out-of-scope handed off (mean AUC over the pool's shops; "
          "lowest shop):")
    print("| score | " + " | ".join(title for title, _p in POOLS) + " |")
    print("|---|" + "---|" * len(POOLS))
    for spec in specs:
        kind, _, extra = spec.partition(":")
        feats = (*ga.FEATURES, *(e for e in extra.split(",") if e))
        per, auc = {}, {}
        started = time.perf_counter()
        for k in rows:
            train = [j for j in rows if j != k]
            model = ga.fitted(rows, train, feats, kind)
            t = ga.threshold([model(rows[j]["x"]) for j in train], [rows[j] for j in train])
            r = rows[k]
            p = model(r["x"])
            per[k] = ga.counts(p, r, t)
            keep = ~r["ruled"]
            if len(set(r["y"][keep])) > 1:
                auc[k] = roc_auc_score(r["y"][keep], p[keep])
        cells = []
        for _title, pool in POOLS:
            names = [k for k in rows if pool_of(k) == pool]
            if not names:
                cells.append("")
                continue
            c = sum(per[k] for k in names)
            low = (f"; lowest {min(per[k][0] / per[k][1] for k in names):.3f} / "
                   f"{min(per[k][2] / per[k][3] for k in names):.3f}") if len(names) > 1 else ""
            cells.append(f"{c[0] / c[1]:.3f} / {c[2] / c[3]:.3f} "
                         f"({np.mean([auc[k] for k in names if k in auc]):.3f}{low})")
        print(f"| {spec} | " + " | ".join(cells) + f" |  ({time.perf_counter() - started:.0f} s)", flush=True)


def main() -> None:
    from gate_shops import opened_shops

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="*")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--rerank", nargs="*", default=["lin", "pairs", "hgb200", "boost100"])
    parser.add_argument("--gate", nargs="*", default=[])
    args = parser.parse_args()
    for variant in args.rerank:
        fitter(variant)  # a misspelt variant fails before the shops are opened
    started = time.perf_counter()
    with opened_shops(args.shops, tea=args.tea) as (shops, _embedder):
        datas = [gf.collect(s) for s in shops]
    print(f"{len(shops)} shops searched in {time.perf_counter() - started:.0f} s", flush=True)
    if args.rerank:
        rerank_loso([shop_groups(s, d) for s, d in zip(shops, datas)], args.rerank)
    if args.gate:
        gate = default_gate()
        rows = {d.name: ga.gate_rows(gate, d) for d in datas}
        gate_loso(rows, args.gate)


if __name__ == "__main__":
    main()
