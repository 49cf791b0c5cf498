"""Calibrate the answer-or-hand-off gate and measure it (history: the gate is now fitted with
benchmarks/gate_fit.py and measured with benchmarks/gate_shops.py; `--report` still runs).

Labelled examples come from two places:
  * BQ dev (../shared/data/faq_eval, read in place, never copied): merchant-sized FAQ bases of
    100 clusters; in-scope queries are members of those clusters, out-of-scope queries are
    members of other clusters, whose answer is not in the base.
  * labelled questions for eight shops: the sample tea shop (benchmarks/data/tea_shop_questions.tsv
    and _2 to _29, one fold) and clothing, snacks, pets, skincare, homegoods, stationery and
    outdoor gear (benchmarks/data/heldout_*: in-scope questions that need a step of inference
    from the answer, out-of-scope questions that mostly share an entry's topic; most written by
    someone who had not seen the gate, then used to tune it and the retrieval weights).
Label = "the top hit is the right entry" (an in-scope question whose top hit is wrong should be
handed off too). A logistic model over `bot.drafting.gate.FEATURES` is fitted on the questions
no rule hands off (the only ones it decides), and the threshold is chosen to maximise
min(in-scope answered-right rate, out-of-scope hand-off rate) on leave-one-shop-out predictions
(each shop scored by a model that never saw it, as a merchant's own shop will be), with the
rules credited with the share of out-of-scope questions they catch on questions they were not
written from (RULES_CATCH_UNSEEN), not the share they catch here, and the in-scope rate taken
as much lower as new questions measured blind have been (IN_SCOPE_UNSEEN_LOSS). The result is
written to bot/drafting/gate_calibration.json.

The held-out shops are never used for fitting or tuning: baby products, phone accessories and
fresh fruit (heldout_baby, heldout_digital, heldout_fruit), and later flowers and plants, rice,
oil and condiments (heldout_flowers, heldout_grocery), each written blind to the code, the gate,
its rules and its topic cues. Their rates are the honest estimate for a shop the gate has not
seen. Stationery and outdoor gear were written with the last two and measured blind once, then
their retrieval misses were read to choose the re-rank's topic pool, so they are fitted on now.
A bakery (heldout_bakery) and two more sets of tea-shop questions (tea_shop_questions_heldout.tsv
and _heldout_2.tsv) were written blind later still and are only measured; tea sets 2 to 5 were
written with them, measured blind once, and their misses read to write the service needs and
the subject rule added then. Tea sets 6 to 29 came after, each measured blind once and then
read in the same way.

    .venv/bin/python benchmarks/calibrate_gate.py            # fit, write, report
    .venv/bin/python benchmarks/calibrate_gate.py --report   # only measure the shipped calibration
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._bq import bq_faq, faq_base  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.drafting.gate import CALIBRATION, FEATURES, Gate, features, rule_out  # noqa: E402
from bot.drafting.plan import plan_reply  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import E5Embeddings  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
TEA_QUESTIONS = DATA / "tea_shop_questions.tsv"
# More sets for the sample shop, each written blind to the code by a helper that saw only the
# FAQ. Sets 2–31 were measured once blind, then read and fitted on; the two held-out sets are
# only ever measured.
TEA_FITTED_SETS = [DATA / f"tea_shop_questions_{n}.tsv" for n in range(2, 32)]
TEA_HELDOUT = DATA / "tea_shop_questions_heldout.tsv"
TEA_HELDOUT_2 = DATA / "tea_shop_questions_heldout_2.tsv"
HELDOUT = DATA / "heldout_shop"
# The share of new out-of-scope questions the rules (gate.rule_out) hand off, for choosing the
# threshold. Measured on tea sets with the rules as they were before those sets were read: sets
# 9–11 (commit 5afde05) 88 of 195, 12–14 (7c00e5e) 107 of 196, 15–17 (1c66aab) 112 of 196,
# 18–20 (c9c3a11) 86 of 196, 21–23 (06b38f6) 102 of 195, 24–26 (5ba7e33) 106 of 195, 27–29
# (0cdead5) 109 of 195, 30–31 (4749e44) 85 of 130; 795 of 1498 together (0.53). On the sets
# they were written from they catch about 60%.
RULES_CATCH_UNSEEN = 0.50
# Likewise on the in-scope side: the topic cues and the narrowing of the rules were written from
# these sets' in-scope misses, so they are answered better here than new questions will be. Tea
# sets 6–26 were answered right 0.788 on average when first measured blind and 0.836 with the
# code after they were read (threshold 0.39 both times), so the threshold is chosen for an
# answered-right rate 0.05 below the one measured here.
IN_SCOPE_UNSEEN_LOSS = 0.05
# Shops whose labelled questions the gate is fitted on, besides the tea shop (knowledge/).
FIT_SHOPS = (
    ("clothing (fitted on)", HELDOUT),
    ("snacks (fitted on)", DATA / "heldout_snacks"),
    ("pets (fitted on)", DATA / "heldout_pets"),
    ("skincare (fitted on)", DATA / "heldout_skincare"),
    ("homegoods (fitted on)", DATA / "heldout_homegoods"),
    # Written blind and first measured so; then used to choose the re-rank's topic pool.
    ("stationery (fitted on)", DATA / "heldout_stationery"),
    ("outdoor (fitted on)", DATA / "heldout_outdoor"),
)
HELDOUT_SHOPS = (
    ("baby products (held out, written blind)", DATA / "heldout_baby"),
    ("phone accessories (held out, written blind)", DATA / "heldout_digital"),
    ("fresh fruit (held out, written blind)", DATA / "heldout_fruit"),
    ("flowers and plants (held out, written blind)", DATA / "heldout_flowers"),
    ("rice, oil and condiments (held out, written blind)", DATA / "heldout_grocery"),
    ("bakery (held out, written blind)", DATA / "heldout_bakery"),
)


def read_questions(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(r["label"].strip(), (r["expected"] or "").strip(), r["question"].strip()) for r in rows]


def shop_kb(knowledge: Path, workdir: Path, embedder: E5Embeddings) -> KnowledgeBase:
    settings = Settings(data_dir=workdir / "data", knowledge_dir=knowledge)
    kb = KnowledgeBase(settings, embedder=embedder)
    kb.sync()
    return kb


def rows_to_examples(
    kb: KnowledgeBase, rows: list[tuple[str, str, str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, label (top hit is right), in-scope flag, and whether a rule hands it off anyway."""
    xs, ys, inside, ruled = [], [], [], []
    for label, expected, question in rows:
        hits = kb.search(question, 5)
        if not hits:
            continue
        xs.append([features(question, hits, kb.lexical)[f] for f in FEATURES])
        ys.append(int(label == "in" and hits[0].question == expected))
        inside.append(int(label == "in"))
        ruled.append(rule_out(question, hits[0], kb.lexical) is not None)
    return np.array(xs), np.array(ys), np.array(inside), np.array(ruled, dtype=bool)


def bq_examples(embedder: E5Embeddings, workdir: Path, seeds: int, per_cluster: int) -> tuple[np.ndarray, np.ndarray]:
    clusters = bq_faq(splits=("dev",))
    xs, ys = [], []
    for seed in range(seeds):
        rng = random.Random(1000 + seed)
        chosen = rng.sample(range(len(clusters)), 200)
        inside, outside = chosen[:100], chosen[100:]
        kb = faq_base([clusters[i] for i in inside], workdir / f"bq{seed}", embedder)
        rows = []
        for i in inside:
            for q in rng.sample(clusters[i].queries, min(per_cluster, len(clusters[i].queries))):
                rows.append(("in", clusters[i].standard, q))
        for i in outside:
            for q in rng.sample(clusters[i].queries, min(per_cluster, len(clusters[i].queries))):
                rows.append(("out", "", q))
        x, y, _, _ = rows_to_examples(kb, rows)
        xs.append(x)
        ys.append(y)
    return np.vstack(xs), np.concatenate(ys)


def rates(kb: KnowledgeBase, gate: Gate, rows: list[tuple[str, str, str]]) -> dict[str, float]:
    """Answered-right rate on in-scope rows and hand-off rate on out-of-scope rows, via plan_reply."""
    right = inside = handed = outside = top1 = 0
    for label, expected, question in rows:
        plan = plan_reply(question, history=[], search=kb.search, gate=gate, lexical=kb.lexical)
        if label == "in":
            inside += 1
            right += int(not plan.handoff and plan.sources[0].question == expected)
            top1 += int(kb.search(question, 1)[0].question == expected)
        else:
            outside += 1
            handed += int(plan.handoff)
    return {"answered_right": right / max(inside, 1), "handoff": handed / max(outside, 1),
            "top1": top1 / max(inside, 1), "n_in": inside, "n_out": outside}


def best_threshold(
    p: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    ruled: np.ndarray,
    rule_share: float = RULES_CATCH_UNSEEN,
    in_loss: float = IN_SCOPE_UNSEEN_LOSS,
) -> float:
    """Maximise min(answered-right on in-scope, hand-off on out-of-scope) as expected on new questions.

    A question a rule hands off is lost if in scope and caught if not. The rules were written from
    these shops' own misses, so here they catch far more out-of-scope questions than they will on
    new ones: the hand-off rate counts `rule_share` of out-of-scope questions as caught by a rule
    and the model's hand-offs on the rest, the ones no rule decides; the answered-right rate is
    taken `in_loss` lower than measured, for the same reason.
    """
    outside = labels == 0
    rest = outside & ~ruled
    best_t, best_v = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 181):
        answered = (p >= t) & ~ruled
        right = (answered & (y == 1) & (labels == 1)).sum() / max((labels == 1).sum(), 1)
        handoff = rule_share + (1 - rule_share) * (~answered & rest).sum() / max(rest.sum(), 1)
        value = min(right - in_loss, handoff)
        if value > best_v:
            best_t, best_v = float(t), value
    return best_t


class RawLogistic:
    """Logistic regression fitted on standardised features, expressed on the raw ones.

    Without standardising, regularisation crushes features with a small range (cosines live
    in 0.8–1.0) and the weights say more about units than about evidence.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        self.mean, self.std = x.mean(axis=0), x.std(axis=0) + 1e-9
        model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
        model.fit((x - self.mean) / self.std, y, sample_weight=w)
        self.coef_ = np.array([model.coef_[0] / self.std])
        self.intercept_ = np.array([model.intercept_[0] - float((model.coef_[0] * self.mean / self.std).sum())])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(x @ self.coef_[0] + self.intercept_[0])))
        return np.column_stack([1 - p, p])


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> RawLogistic:
    return RawLogistic(x, y, w)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="only measure the shipped calibration")
    parser.add_argument("--bq-seeds", type=int, default=4)
    parser.add_argument("--per-cluster", type=int, default=3)
    parser.add_argument("--shop-weight", type=float, default=10.0)
    parser.add_argument(
        "--rule-share", type=float, default=RULES_CATCH_UNSEEN,
        help="share of new out-of-scope questions the rules hand off (for choosing the threshold)",
    )
    parser.add_argument(
        "--in-loss", type=float, default=IN_SCOPE_UNSEEN_LOSS,
        help="how much lower new in-scope questions are answered right (for choosing the threshold)",
    )
    args = parser.parse_args()
    if not args.report:
        # This fit writes the old single-logistic format; the gate now has a re-ranker and
        # per-shop reference points fitted together (benchmarks/gate_fit.py).
        raise SystemExit("the gate is fitted with benchmarks/gate_fit.py now; --report still measures")

    embedder = E5Embeddings()
    tea_rows = read_questions(TEA_QUESTIONS)
    tea_sets = [read_questions(path) for path in TEA_FITTED_SETS]
    work = Path(tempfile.mkdtemp(prefix="dx-gate-"))
    try:
        tea = shop_kb(ROOT / "knowledge", work / "tea", embedder)
        if not args.report:
            bx, by = bq_examples(embedder, work, args.bq_seeds, args.per_cluster)
            parts = [rows_to_examples(tea, tea_rows + sum(tea_sets, []))]  # one shop, one fold
            for n, (_, directory) in enumerate(FIT_SHOPS):
                kb = shop_kb(directory / "knowledge", work / f"fit{n}", embedder)
                parts.append(rows_to_examples(kb, read_questions(directory / "questions.tsv")))
            tx, ty, inside, ruled = (np.concatenate([p[i] for p in parts]) for i in range(4))
            # Each shop is scored by a model fitted without it; those scores choose the threshold.
            folds = np.concatenate([np.full(len(p[1]), k) for k, p in enumerate(parts)])
            oof = np.zeros(len(ty))
            # The model only ever decides what the rules (gate.rule_out) let through: fit on that.
            for k in range(len(parts)):
                train, test = (folds != k) & ~ruled, folds == k
                x = np.vstack([bx, tx[train]])
                yy = np.concatenate([by, ty[train]])
                w = np.concatenate([np.ones(len(by)), np.full(train.sum(), args.shop_weight)])
                oof[test] = fit(x, yy, w).predict_proba(tx[test])[:, 1]
            oof[ruled] = 0.0  # gate.rule_out hands these off whatever the score
            threshold = best_threshold(oof, ty, inside, ruled, args.rule_share, args.in_loss)
            model = fit(
                np.vstack([bx, tx[~ruled]]),
                np.concatenate([by, ty[~ruled]]),
                np.concatenate([np.ones(len(by)), np.full((~ruled).sum(), args.shop_weight)]),
            )
            calibration = {
                "weights": {f: round(float(c), 6) for f, c in zip(FEATURES, model.coef_[0])},
                "bias": round(float(model.intercept_[0]), 6),
                "threshold": round(threshold, 4),
                "fitted_on": {
                    "bq_dev_examples": int(len(by)),
                    "shop_examples": int((~ruled).sum()),
                    "shops": ["tea"] + [name.split(" ")[0] for name, _ in FIT_SHOPS],
                    "command": "python benchmarks/calibrate_gate.py",
                },
            }
            CALIBRATION.write_text(json.dumps(calibration, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            oof_right = ((oof >= threshold) & (ty == 1) & (inside == 1)).sum() / (inside == 1).sum()
            oof_handoff = ((oof < threshold) & (inside == 0)).sum() / (inside == 0).sum()
            print(f"fitted on {len(by)} BQ-dev + {(~ruled).sum()} shop examples ({len(parts)} shops; {ruled.sum()} more "
                  f"handed off by a rule); threshold {threshold:.3f}")
            print(f"fitted shops pooled, each scored without itself: answered right {oof_right:.3f}, handed off {oof_handoff:.3f}")
            for k, (name, _) in enumerate([("tea", None), *FIT_SHOPS]):
                own = folds == k
                right = ((oof >= threshold) & (ty == 1) & (inside == 1) & own).sum() / ((inside == 1) & own).sum()
                handed = ((oof < threshold) & (inside == 0) & own).sum() / ((inside == 0) & own).sum()
                print(f"  {name.split(' (')[0]} without itself: {right:.3f} / {handed:.3f}")
        gate = Gate.load()
        print("\n| shop | in-scope answered with the right entry | out-of-scope handed off | right entry first (retrieval alone) | n in / out |")
        print("|---|---|---|---|---|")
        shops = [
            ("tea (sample, fitted on)", tea, tea_rows),
            *(
                (f"tea, set {n} (written blind, then fitted on)", tea, rows)
                for n, rows in enumerate(tea_sets, 2)
            ),
            ("tea, held-out set A (written blind)", tea, read_questions(TEA_HELDOUT)),
            ("tea, held-out set B (written blind)", tea, read_questions(TEA_HELDOUT_2)),
        ]
        for n, (name, directory) in enumerate(FIT_SHOPS + HELDOUT_SHOPS):
            if (directory / "questions.tsv").exists():
                rows = read_questions(directory / "questions.tsv")
                shops.append((name, shop_kb(directory / "knowledge", work / f"held{n}", embedder), rows))
        for name, kb, rows in shops:
            r = rates(kb, gate, rows)
            print(f"| {name} | {r['answered_right']:.3f} | {r['handoff']:.3f} | {r['top1']:.3f} | {r['n_in']} / {r['n_out']} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
