"""Why a message was answered or handed off: the trace `dianxiaoer explain` prints.

It follows the same path as `ask` (the planner, the shop's gate, the policy's rules) without
writing anything, and shows for each part of the message what was searched, the candidates with
their signals, the gate's inputs for the first one, the rule that fired and on which words, the
calibrated probability and this shop's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.drafting.assistant import Assistant
from bot.drafting.gate import FEATURES, features
from bot.knowledge.entries import Hit
from bot.policy.evaluate import evaluate, rules_in_force
from bot.policy.rules import RuleHit

CANDIDATES = 5


@dataclass
class PartTrace:
    text: str  # the clause as the customer wrote it
    query: str  # what was searched, in the FAQ's words
    hits: list[Hit]
    signals: dict[str, float]  # the gate's inputs for the first candidate
    rule: RuleHit | None  # the rule that fired on the first candidate, if any
    rule_source: str  # where that rule is written: a file and line, or the module
    model_probability: float | None  # what the calibrated model says (even when a rule decided)
    answered: bool
    confidence: float
    reason: str
    decided_by: str | None  # the rule id, or None when the model decided

    def as_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "query": self.query,
            "candidates": [
                {"id": h.id, "question": h.question, "score": round(h.score, 4), "dense": round(h.dense, 4),
                 "lexical": round(h.lexical, 4), "passage": round(h.passage, 4), "sentence": round(h.sentence, 4)}
                for h in self.hits
            ],
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
            "rule": None if self.rule is None else {
                "id": self.rule.rule, "reason": self.rule.reason, "span": list(self.rule.span), "text": self.rule.text,
                "source": self.rule_source,
            },
            "probability": None if self.model_probability is None else round(self.model_probability, 4),
            "answered": self.answered,
            "confidence": round(self.confidence, 4),
            "reason": self.reason,
            "decided_by": self.decided_by,
        }


@dataclass
class Trace:
    message: str
    threshold: float
    calibrated: str  # whose scale the probability is on
    rules_files: tuple[str, ...]
    parts: list[PartTrace] = field(default_factory=list)
    handoff: bool = True

    def as_json(self) -> dict[str, object]:
        return {
            "message": self.message,
            "handoff": self.handoff,
            "threshold": round(self.threshold, 4),
            "calibration": self.calibrated,
            "rules_files": list(self.rules_files),
            "parts": [p.as_json() for p in self.parts],
        }


def explain(assistant: Assistant, message: str, history: list[str] | None = None) -> Trace:
    """Plan a reply to `message` as `ask` would, and say how every decision was reached."""
    from bot.policy.loader import active_words

    gate = assistant.gate
    lexical = assistant.knowledge.lexical
    plan = assistant.plan(message.strip(), history or [])
    calibration = getattr(gate, "calibration", None)
    trace = Trace(
        message=message,
        threshold=gate.threshold,
        calibrated="本店刻度：按本店知识库和员工决定校准" if calibration is not None else "通用刻度",
        rules_files=active_words().files,
        handoff=plan.handoff,
    )
    sources = {rule.id: rule.source for rule in rules_in_force()}
    for part in [*plan.answered, *plan.pending]:
        hits = part.hits[:CANDIDATES]
        signals = features(part.query, hits, lexical) if hits else {}
        fired = evaluate(part.query, hits[0], lexical) if hits else None
        trace.parts.append(
            PartTrace(
                text=part.text,
                query=part.query,
                hits=hits,
                signals={k: signals[k] for k in FEATURES if k in signals},
                rule=fired,
                rule_source=sources.get(fired.rule, "") if fired else "",
                model_probability=gate.probability(signals) if hits else None,
                answered=part.decision.answer,
                confidence=part.decision.confidence,
                reason=part.decision.reason,
                decided_by=part.decision.rule,
            )
        )
    return trace
