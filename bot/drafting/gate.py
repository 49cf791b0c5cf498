"""Decide whether the FAQ answers a question, with a calibrated probability.

A bare cosine threshold cannot do this: on a held-out shop, in-scope questions' best cosine
(10th percentile 0.876) overlaps out-of-scope ones' (90th percentile 0.888). So the gate
combines signals that fail differently — how close the best phrasing is, how far ahead of the
runner-up it is, whether the dense and lexical rankings agree, how much of the question's
wording the entry covers, how close the question is to the entry's answer — in a logistic model
calibrated by `benchmarks/calibrate_gate.py`
on labelled pairs (BQ dev) and the sample shop's in-scope / out-of-scope questions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex, bigrams, coverage, tokenize
from bot.knowledge.topics import shared
from bot.policy.evaluate import evaluate
from bot.policy.rules import RuleHit

CALIBRATION = Path(__file__).with_name("gate_calibration.json")
FEATURES = (
    "dense",
    "dense_margin",
    "dense_spread",
    "coverage",
    "phrasing_coverage",
    "novel",
    "lexical_norm",
    "agree",
    "fused_margin",
    "query_len",
    "passage",
    "passage_margin",
    "topic",
)


@dataclass(frozen=True)
class GateDecision:
    answer: bool
    confidence: float  # calibrated probability that the top hit answers the question
    reason: str  # the sentence shown to staff
    rule: str | None = None  # the rule that handed it off; None when the calibrated model decided


def features(query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> dict[str, float]:
    """The gate's inputs for the top hit of `hits` (which must not be empty)."""
    top = hits[0]
    others = [h.dense for h in hits[1:]]
    runner_score = hits[1].score if len(hits) > 1 else 0.0
    own = lexical.phrasings.get(top.id, [top.question])
    grams = bigrams(query)
    return {
        "dense": top.dense,
        "dense_margin": top.dense - max(others, default=0.0),
        # Out-of-scope questions in the shop's own domain sit close to many entries at once.
        "dense_spread": top.dense - (sum(others) / len(others) if others else 0.0),
        # Words the FAQ never uses (铁观音, 降血压, an order number) say it was not written for this.
        "novel": sum(not lexical.knows(g) for g in grams) / len(grams) if grams else 1.0,
        "lexical_norm": top.lexical / max(len(tokenize(query)), 1),
        "coverage": coverage(query, [*own, top.answer]),
        "phrasing_coverage": max(coverage(query, [p]) for p in own),
        "agree": float(top.dense_rank == 1 and top.lexical_rank == 1),
        "fused_margin": top.score - runner_score,  # in standard deviations of the candidates
        "query_len": min(len(query), 40) / 40.0,
        # How well the entry's answer, not just its wording, fits the question.
        "passage": top.passage,
        "passage_margin": top.passage - max((h.passage for h in hits[1:]), default=0.0),
        # Whether the entry is about what the customer wants done (ship, return, store…).
        "topic": shared(query, tuple(own)),
    }


@dataclass(frozen=True)
class Gate:
    weights: dict[str, float]
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = CALIBRATION) -> Gate:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(weights=data["weights"], bias=data["bias"], threshold=data["threshold"])

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[name] * values[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-z))

    def decide(self, query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> GateDecision:
        if not hits:
            return GateDecision(False, 0.0, "知识库里没有相关条目")
        ruled_out = rule_out(query, hits[0], lexical)
        if ruled_out:
            return GateDecision(False, 0.0, ruled_out.reason, rule=ruled_out.rule)
        p = self.probability(features(query, hits, lexical))
        if p >= self.threshold:
            return GateDecision(True, p, f"匹配「{hits[0].question}」")
        return GateDecision(False, p, f"最接近的是「{hits[0].question}」，但把握不足（{p:.2f}）")


def rule_out(query: str, top: Hit, lexical: LexicalIndex) -> RuleHit | None:
    """The rule by which the top entry cannot answer `query` whatever the score, or None: the
    question needs something the entry does not state, or asks it about another subject
    (bot/policy: one evaluator over named rules)."""
    return evaluate(query, top, lexical)


@lru_cache(maxsize=1)
def default_gate() -> Gate:
    return Gate.load()
