"""Decide whether the FAQ answers a question, with a probability calibrated for this shop.

A bare cosine threshold cannot do this: on a held-out shop, in-scope questions' best cosine
(10th percentile 0.876) overlaps out-of-scope ones' (90th percentile 0.888). So the gate
combines signals that fail differently — how close the best phrasing is, how far ahead of the
runner-up it is, whether the dense and lexical rankings agree, how much of the question's
wording the entry covers, how close the question is to the entry's answer and to the one sentence
of it that fits best — in a logistic model
fitted on many shops' labelled questions (`benchmarks/gate_fit.py`). Before it decides, a small
re-ranker (`rerank.py`) puts the candidate it believes in first. The model's score is shared by
every shop; each shop maps it onto its own scale (`calibration.py`: fitted on its own FAQ at sync,
re-fitted from staff decisions), and one threshold applies to the calibrated probability.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.drafting.rerank import Reranker, candidate_features
from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex, bigrams, coverage, tokenize
from bot.knowledge.retrieve import own_phrasings
from bot.knowledge.topics import shared
from bot.policy.evaluate import evaluate
from bot.policy.rules import RuleHit

if TYPE_CHECKING:
    from bot.drafting.calibration import ShopCalibration

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
    "idf_entry",
    "rerank_margin",
    "sentence",
    "sentence_margin",
)
# Signals that may only speak for answering (more of them, more likely the entry answers) and one
# that may only speak against it, in the shared fit and in a shop's own re-fit alike. Question
# sets written to share an entry's words when out of scope and to avoid them when in scope teach
# the opposite; a customer asking the FAQ's own question must still be answered.
MORE_IS_BETTER = ("dense", "dense_margin", "coverage", "phrasing_coverage", "lexical_norm", "agree",
                  "fused_margin", "passage", "passage_margin", "topic", "idf_entry", "rerank_margin",
                  "sentence", "sentence_margin")
MORE_IS_WORSE = ("novel",)


@dataclass(frozen=True)
class GateDecision:
    answer: bool
    confidence: float  # calibrated probability that the top hit answers the question
    reason: str  # the sentence shown to staff
    rule: str | None = None  # the rule that handed it off; None when the calibrated model decided
    threshold: float | None = None  # this shop's threshold, when the model decided


# What a stored calibration was computed with besides the model's numbers: how the features and
# the FAQ's simulated questions are read. 2: entries that give the same answer are one.
SCORING = 2


def features(query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> dict[str, float]:
    """The gate's inputs for the top hit of `hits` (which must not be empty)."""
    top = hits[0]
    # An entry that gives the same answer is no rival: between two copies of one entry (a FAQ
    # file copied, a question filed twice) the customer gets the same reply whichever leads.
    rivals = [h for h in hits[1:] if not same_answer(h, top)]
    others = [h.dense for h in rivals]
    runner_score = rivals[0].score if rivals else 0.0
    own = lexical.phrasings.get(top.id, [top.question])
    grams = bigrams(query)
    rows = candidate_features(query, hits[:5], lexical)
    rerank = [h.extra.get("rerank", 0.0) for h in [top, *rivals[:1]]]
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
        "passage_margin": top.passage - max((h.passage for h in rivals), default=0.0),
        # Whether the entry is about what the customer wants done (ship, return, store…).
        "topic": shared(query, tuple(own_phrasings(lexical).get(top.id, [top.question]))),
        # How much of the message's wording the entry covers, rare words of this FAQ weighing most.
        "idf_entry": rows[0]["idf_entry"],
        # How far ahead of the runner-up the re-ranker put it (0 when it did not run).
        "rerank_margin": min(rerank[0] - rerank[1], 10.0) if len(rerank) == 2 else 0.0,
        # Whether one sentence of the answer says what was asked (a near miss is on the entry's
        # topic, asking what no sentence of it states), and by how much more than the runner-up's.
        "sentence": top.sentence,
        "sentence_margin": top.sentence - (rivals[0].sentence if rivals else 0.0),
    }


def answer_key(answer: str) -> str:
    """What two answers share when they tell the customer the same thing: the text but for spacing."""
    return "".join(answer.split())


def same_answer(a: Hit, b: Hit) -> bool:
    """Whether two entries tell the customer the same thing."""
    return a.kind == b.kind == "faq" and answer_key(a.answer) == answer_key(b.answer)


@dataclass(frozen=True)
class Prior:
    """Where the shared score of the questions a FAQ asks itself sat, on the shops the model was
    fitted on, and how far a shop's own may move it (see calibration.py)."""

    near_miss: float = 0.0
    in_scope: float = 0.0
    beta_shift: float = 0.0
    beta_scale: float = 0.0
    sim_trust: float = 40.0  # simulated examples worth as much as the shared reference points
    min_spread: float = 0.5
    decision_trust: float = 30.0  # staff decisions worth as much as the FAQ's own fit
    scale_floor: float = 0.25
    version: str = ""


@dataclass(frozen=True)
class Gate:
    weights: dict[str, float]
    bias: float
    threshold: float
    reranker: Reranker | None = None
    prior: Prior = field(default_factory=Prior)
    calibration: ShopCalibration | None = None  # this shop's scale; None = the shared one
    # Each feature's spread over the rows the shared model was fitted on: a shop's own re-fit
    # measures how far its weights move in these units (empty: the re-fit keeps the weights).
    feature_scale: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = CALIBRATION) -> Gate:
        data = json.loads(path.read_text(encoding="utf-8"))
        rerank = data.get("rerank")
        return cls(
            weights=data["weights"],
            bias=data["bias"],
            threshold=data["threshold"],
            reranker=Reranker(rerank["weights"], rerank["bias"]) if rerank else None,
            prior=Prior(**data.get("prior", {})),
            feature_scale=data.get("feature_scale", {}),
        )

    @property
    def fingerprint(self) -> str:
        """A digest of the shared model: a shop's stored calibration is for this model only."""
        model = [self.weights, self.bias, self.reranker and (self.reranker.weights, self.reranker.bias),
                 vars(self.prior), SCORING]
        return hashlib.sha1(json.dumps(model, sort_keys=True).encode()).hexdigest()[:12]

    def for_shop(self, calibration: ShopCalibration | None) -> Gate:
        return replace(self, calibration=calibration)

    def order(self, query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> list[Hit]:
        """The hits with the one the re-ranker believes in first."""
        return self.reranker.order(query, hits, lexical) if self.reranker else list(hits)

    def score(self, query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> float:
        """The shared model's logit that the top hit answers `query`, before this shop's scale."""
        return self.shared_logit(features(query, hits, lexical))

    def shared_logit(self, values: dict[str, float]) -> float:
        """The shared model's logit for these feature values."""
        return self.bias + sum(self.weights.get(name, 0.0) * values[name] for name in FEATURES)

    def probability(self, values: dict[str, float], query: str | None = None, top: str | None = None) -> float:
        """With `query` and its first candidate `top`, this shop's staff decisions lean it too."""
        z = self.shared_logit(values)
        return _sigmoid(self.calibration.logit(z, query, top, values) if self.calibration else z)

    def decide(self, query: str, hits: Sequence[Hit], lexical: LexicalIndex) -> GateDecision:
        """Whether hits[0] answers `query`; `hits` in the order `order` gave them."""
        if not hits:
            return GateDecision(False, 0.0, "知识库里没有相关条目", rule="no_entries")
        if query in lexical.learned_texts.get(hits[0].id, ()):
            # Staff said this entry answers these very words: the same message gets the same
            # answer, whatever a rule or the score would make of it.
            return GateDecision(True, 1.0, f"员工确认过这句话由「{hits[0].question}」回答", rule=None)
        ruled_out = rule_out(query, hits[0], lexical)
        if ruled_out:
            return GateDecision(False, 0.0, ruled_out.reason, rule=ruled_out.rule)
        p = self.probability(features(query, hits, lexical), query, hits[0].id)
        if p >= self.threshold:
            return GateDecision(True, p, f"匹配「{hits[0].question}」", threshold=self.threshold)
        return GateDecision(
            False, p,
            f"最接近的是「{hits[0].question}」，但把握不足（{p:.2f}，本店门槛 {self.threshold:.2f}）",
            threshold=self.threshold,
        )


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def rule_out(query: str, top: Hit, lexical: LexicalIndex) -> RuleHit | None:
    """The rule by which the top entry cannot answer `query` whatever the score, or None: the
    question needs something the entry does not state, or asks it about another subject
    (bot/policy: one evaluator over named rules)."""
    return evaluate(query, top, lexical)


@lru_cache(maxsize=1)
def default_gate() -> Gate:
    return Gate.load()
