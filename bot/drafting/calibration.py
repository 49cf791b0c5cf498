"""Fit the gate to this shop's own FAQ, from the FAQ itself, and re-fit it from staff decisions.

A cosine or a logistic score means something different in every FAQ: a shop whose entries are
all about one thing scores its off-topic questions higher than a shop with a broad FAQ. So the
shared model (fitted on many shops, `gate_calibration.json`) gives each decision a score, and
each shop gets its own scale for that score, learnt from questions the FAQ asks itself:

* leave one entry out: each sampled entry's question and similar questions are searched with
  the whole entry left out of the index; the top hit is then a near miss the shop's FAQ cannot
  answer (out of scope, in this shop's own vocabulary);
* leave one phrasing out: each similar question is searched with only its own vector left out;
  the entry is then still there, as it is for a customer who asks in other words (in scope).

Both searches run in memory on the stored vectors and the lexical index (no embedding), with the
product's own fusion and re-rank. Where this shop's scores for the two kinds sit, compared with
where they sat on the shops the shared model was fitted on, gives this shop's shift and scale
(an affine map of the score: Platt scaling with a prior). The result is stored beside the index
with the FAQ's content stamp and reused while the FAQ is unchanged. When it changes, only the
questions a change can reach are asked again (`Case`): the sampled entries are chosen by a hash of
their id, so they stay the same, and each stored question keeps the candidate entries its hits
came from and the weakest cosine that made one a candidate. What this leaves out: a new phrasing
that would become a candidate by its wording alone, and the drift of the FAQ's term weights as
entries come and go, wait for the next time that question is asked again.

Staff decisions (bot/memory/learned.py: a message and the entry that answers it, or none) are
labelled examples of the real thing: they re-fit the shift and scale by penalised logistic
regression that starts from the FAQ's own fit and trusts the decisions more as they grow, and in
the same regression this shop's own feature weights, as moves from the shared ones penalised in
each feature's own units (`FEATURE_TRUST`): with a few dozen decisions the shared model stands,
with a thousand (the most a re-fit reads) the shop's own counts as much as it. They are also a memory the next message is compared with
(decision_memory.py): how much closeness to an earlier approval or rejection counts is fitted in
the same regression, per shop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bot.drafting.decision_memory import DecisionMemory
from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex
from bot.knowledge.retrieve import Passages, exact_vectors, ranked_hits

if TYPE_CHECKING:
    from bot.drafting.gate import Gate
    from bot.knowledge.base import KnowledgeBase
    from bot.memory.learned import LabelledQuestion

logger = logging.getLogger(__name__)

FORMAT = 2  # 2: the simulated questions are kept, so a changed FAQ re-asks only those it reaches
MAX_ENTRIES = 200  # entries sampled for the simulation: enough for two parameters, bounded cost
PER_ENTRY = 2  # phrasings of each sampled entry asked each way
DENSE_CANDIDATES = 50
MAX_DECISIONS = 1000  # the latest staff decisions a re-fit reads (cost: benchmarks/gate_feedback_cost.py)
BALANCED = False  # weigh approvals and rejections alike in the re-fit: tried, not kept (see fit_decisions)
RESCORE = 100  # decisions scored again per re-fit after the FAQ changed (each is a search)
MEMORY_TRUST = 100.0  # decisions worth as much as the prior that the decision memory does not count
# Decisions worth as much as the prior that this shop's feature weights are the shared ones (each
# weight's move measured in the feature's spread over the shared fit's rows, `Gate.feature_scale`).
# 30 / 100 / 300 / 1000 were measured (benchmarks/README.md, "Learning from staff, evening round"):
# the fewer, the more a shop whose questions never repeat trades answers for hand-offs; 1000
# keeps such a shop within a question of where the scale alone put it, and where messages recur
# still lifts the answers.
FEATURE_TRUST = 1000.0
FEATURE_REFIT = True  # off only to measure without it (benchmarks/gate_fit.py, GATE_FEEDBACK)


class Case(NamedTuple):
    """One question the FAQ asked itself, scored, and what its score depended on: the candidate
    entries its hits were chosen from and the weakest cosine that made one a candidate. A changed
    FAQ re-asks only the questions a change can reach (the entry they ask about, or a candidate,
    changed or went; or a new or changed phrasing is closer to them than their weakest candidate)."""

    entry: str  # the sampled entry
    text: str  # one of its phrasings
    inside: bool  # asked with the entry present (a phrasing left out) or with all of it left out
    score: float
    label: int
    near: list[str]  # the entries its hits were chosen from (ids cut to 8 characters)
    floor: float  # the lowest cosine that made an entry a candidate


@dataclass(frozen=True)
class Example:
    """One labelled question for the scale: the shared model's score and whether to answer."""

    score: float
    label: int  # 1 = the top hit is the right entry
    top: str | None = field(default=None, compare=False)  # the entry first after the re-rank
    decision: int | None = field(default=None, compare=False)  # its row in the DecisionMemory
    values: tuple[float, ...] | None = field(default=None, compare=False)  # gate.FEATURES, in order


@dataclass
class ShopCalibration:
    """This shop's scale for the shared score, and where it came from."""

    stamp: str  # the FAQ's content stamp (entries' phrasings and answers, not learned phrasings)
    shift: float = 0.0  # calibrated logit = scale * score + shift
    scale: float = 1.0
    near_miss: float = 0.0  # median shared score of left-out entries' questions (out of scope)
    in_scope: float = 0.0  # median shared score of left-out phrasings (in scope)
    simulated: int = 0  # examples the FAQ gave itself
    decisions: int = 0  # staff decisions the scale was re-fitted on
    decisions_stamp: str = ""
    seconds: float = 0.0  # what the simulation cost
    format: int = FORMAT
    sim: list[tuple[float, int]] = field(default_factory=list)  # the simulated examples, for re-fits
    model: str = ""  # the shared model's fingerprint the cases were scored with
    cases: list[Case] = field(default_factory=list)  # the simulated questions, each with what it depended on
    digests: dict[str, str] = field(default_factory=dict)  # entry id → digest of its phrasings and answer
    reused: int = 0  # cases carried over from the previous calibration unchanged
    # This shop's own feature weights, as moves from the shared ones fitted on staff decisions:
    # logit += Σ moves[f]·(value[f] − centre[f]). The centre is the decisions' mean, so the moves
    # change how this shop's messages rank against one another, and shift keeps the level.
    moves: dict[str, float] = field(default_factory=dict)
    centre: dict[str, float] = field(default_factory=dict)
    # Staff's decisions as a memory the next message is compared with (never stored in the JSON:
    # rebuilt from the database's decisions, bot/drafting/decision_memory.py).
    memory: DecisionMemory | None = field(default=None, compare=False, repr=False)

    def logit(self, score: float, query: str | None = None, top: str | None = None,
              values: dict[str, float] | None = None) -> float:
        """This shop's logit for the shared score; with the features behind it, read with this
        shop's own weights; with the message and its first candidate, leaned by the nearest staff
        decisions."""
        base = self.scale * score + self.shift
        if self.moves and values is not None:
            base += sum(w * (values[f] - self.centre.get(f, 0.0)) for f, w in self.moves.items())
        if self.memory is not None and query:
            base += self.memory.adjust(query, top, base)
        return base

    def to_json(self) -> str:
        data = {name: value for name, value in vars(self).items() if name != "memory"}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ShopCalibration | None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        data["sim"] = [tuple(x) for x in data.get("sim", [])]
        try:
            data["cases"] = [Case(*c) for c in data.get("cases", [])]
            return cls(**data)
        except TypeError:
            return None


def entry_digests(lexical: LexicalIndex) -> dict[str, str]:
    """Each entry's digest of its own phrasings and answer (learned phrasings left out)."""
    texts: dict[str, list[str]] = {}
    for doc in lexical.docs:
        if not doc.learned:
            texts.setdefault(doc.entry_id, []).append(f"{doc.vector_id}\x1f{doc.text}")
    return {
        entry_id: hashlib.sha1("\x1e".join([*texts.get(entry_id, []), str(meta.get("answer", ""))]).encode()).hexdigest()[:12]
        for entry_id, meta in lexical.entries.items()
    }


def faq_stamp(lexical: LexicalIndex, digests: dict[str, str] | None = None) -> str:
    """A digest of the FAQ's own phrasings and answers (its entries' `entry_digests`, given when
    already computed): learned phrasings do not change it."""
    digests = entry_digests(lexical) if digests is None else digests
    return hashlib.sha1("".join(f"{e}\x1f{d}\x1e" for e, d in sorted(digests.items())).encode()).hexdigest()


class FaqMemory:
    """The FAQ's phrasing vectors in memory, aligned with the lexical index's documents, so the
    calibration can search it with an entry or a phrasing left out."""

    def __init__(self, lexical: LexicalIndex, vector_ids: list[str], vectors: np.ndarray, passages: Passages) -> None:
        self.lexical = lexical
        self.passages = passages
        at = {vid: i for i, vid in enumerate(vector_ids)}
        rows = [at.get(d.vector_id) for d in lexical.docs]
        dim = vectors.shape[1] if vectors.size else 0
        self.vectors = np.zeros((len(lexical.docs), dim), dtype=np.float32)
        self.known = np.array([r is not None for r in rows], dtype=bool)
        for i, r in enumerate(rows):
            if r is not None:
                self.vectors[i] = vectors[r]
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.vectors /= np.where(norms == 0, 1, norms)
        self.learned = np.array([d.learned for d in lexical.docs], dtype=bool)
        self.rows_of: dict[str, list[int]] = {}
        for i, doc in enumerate(lexical.docs):
            self.rows_of.setdefault(doc.entry_id, []).append(i)
        # Entries that give the same answer (a copied file, a question filed twice): a near miss
        # leaves them out with the entry, or the simulated "unanswered" question would be answered.
        from bot.drafting.gate import answer_key  # gate imports this module

        by_answer: dict[str, list[str]] = {}
        for entry_id, meta in lexical.entries.items():
            if meta.get("kind", "faq") == "faq":
                by_answer.setdefault(answer_key(str(meta.get("answer", ""))), []).append(entry_id)
        self.twins = {e: [t for t in group if t != e] for group in by_answer.values() if len(group) > 1 for e in group}

    @classmethod
    def of(cls, kb: KnowledgeBase) -> FaqMemory:
        # The vectors exact search already holds for this index (a FAQ of ordinary size), read
        # once for both; else Chroma's own store, only ids and embeddings.
        exact = exact_vectors(kb.store, kb.lexical)
        if exact is not None:
            return cls(kb.lexical, [d.vector_id for d in kb.lexical.docs], exact, kb.passages)
        got = kb.store._chroma._collection.get(include=["embeddings"])
        ids = list(got["ids"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(ids), -1) if ids else np.zeros((0, 0))
        return cls(kb.lexical, ids, vectors, kb.passages)

    def search(self, text: str, vector: np.ndarray, *, leave_out: Sequence[int], top_k: int = 5,
               pool: Pool | None = None) -> list[Hit]:
        """The product's hybrid search of `text`, with the documents at rows `leave_out` (and
        any entry left with none) absent. `pool` collects every candidate entry the hits were
        chosen from, and the lowest cosine that made one a candidate."""
        from bot.knowledge.base import KnowledgeBase  # noqa: F401  (weights live with retrieval)
        from bot.knowledge.retrieve import FusionWeights

        weights = FusionWeights()
        docs = self.lexical.docs
        cos = self.vectors @ vector
        cos[self.learned] -= weights.learned_penalty
        cos[~self.known] = -2.0
        cos[list(leave_out)] = -2.0
        k = min(DENSE_CANDIDATES, int((cos > -2.0).sum()))
        dense: dict[str, tuple[str, float, str]] = {}
        if k:
            top = np.argpartition(-cos, k - 1)[:k]
            for i in top[np.argsort(-cos[top])]:
                entry_id = docs[i].entry_id
                if entry_id not in dense:
                    dense[entry_id] = (entry_id, float(cos[i]), docs[i].text)
        scores = self.lexical.scores(text)
        lex: dict[str, tuple[str, float, str]] = {}
        if scores.size:
            scores = scores.copy()
            scores[list(leave_out)] = 0.0
            k = min(weights.candidates * 3, scores.size)
            top = np.argpartition(-scores, k - 1)[:k]
            for i in top[np.argsort(-scores[top])]:
                if scores[i] <= 0:
                    break
                entry_id = docs[i].entry_id
                if entry_id not in lex:
                    lex[entry_id] = (entry_id, float(scores[i]), docs[i].text)
        if pool is not None:
            pool.entries.update(dense, list(lex)[: weights.candidates])
            pool.floor = min((c for _, c, _ in dense.values()), default=0.0)
        return ranked_hits(
            text, vector, list(dense.values()), list(lex.values())[: weights.candidates],
            lexical=self.lexical, top_k=top_k, weights=weights, passages=self.passages,
        )


@dataclass
class Pool:
    """The candidates one in-memory search chose its hits from (see `Case`)."""

    entries: set[str] = field(default_factory=set)
    floor: float = 0.0


class LeftOut:
    """The lexical index as features see it with some phrasings gone: without this, a left-out
    similar question would still count as covered by its own entry's wording."""

    def __init__(self, lexical: LexicalIndex, rows: Sequence[int], rows_of: dict[str, list[int]]) -> None:
        self.base = lexical
        self.changed: dict[str, list[str]] = {}
        for entry_id in {lexical.docs[r].entry_id for r in rows}:
            self.changed[entry_id] = [lexical.docs[i].text for i in rows_of[entry_id] if i not in rows]
        self.phrasings = _Phrasings(lexical.phrasings, self.changed)

    def __getattr__(self, name: str) -> object:
        return getattr(self.base, name)


class _Phrasings:
    def __init__(self, base: dict[str, list[str]], changed: dict[str, list[str]]) -> None:
        self.base, self.changed = base, changed

    def get(self, entry_id: str, default: object = None) -> object:
        return self.changed[entry_id] if entry_id in self.changed else self.base.get(entry_id, default)

    def __getitem__(self, entry_id: str) -> list[str]:
        return self.changed[entry_id] if entry_id in self.changed else self.base[entry_id]

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self.base


Asked = tuple[str, list[Hit], "str | None", "LexicalIndex | LeftOut"]


def sampled_entries(lexical: LexicalIndex) -> list[str]:
    """The FAQ entries the simulation asks about: at most MAX_ENTRIES, chosen by a hash of their
    id, so that a change to the FAQ keeps the sample (and the questions already asked) the same."""
    faq = [e for e, meta in lexical.entries.items() if meta.get("kind", "faq") == "faq"]
    return sorted(faq, key=lambda e: hashlib.sha1(e.encode()).hexdigest())[:MAX_ENTRIES]


def ask_entry(memory: FaqMemory, entry_id: str, seed: str = "", pools: list[Pool] | None = None) -> list[Asked]:
    """The questions one entry's phrasings make: each with the whole entry left out (a near miss:
    no entry answers it) and, when the entry has other phrasings, with only itself left out.
    `pools` receives each question's candidate pool, in the same order."""
    lexical = memory.lexical
    rng = random.Random(seed + entry_id)
    rows = [r for r in memory.rows_of.get(entry_id, []) if not lexical.docs[r].learned]
    chosen = rows[:1] + rng.sample(rows[1:], min(PER_ENTRY - 1, len(rows) - 1))
    asked: list[Asked] = []
    for r in chosen:
        text = lexical.docs[r].text
        twins = memory.twins.get(entry_id, [])
        whole = memory.rows_of[entry_id] + [t for e in twins for t in memory.rows_of.get(e, [])]
        ways = [(whole, None)] + ([([r], entry_id)] if len(rows) > 1 else [])
        for leave_out, answer in ways:
            pool = Pool(set(twins))  # an edit to a twin reaches this question too
            hits = memory.search(text, memory.vectors[r], leave_out=leave_out, pool=pool)
            if hits:
                view = lexical if answer is None else LeftOut(lexical, [r], memory.rows_of)
                asked.append((text, hits, answer, view))
                if pools is not None:
                    pools.append(pool)
    return asked


def simulate(memory: FaqMemory, seed: str = "") -> list[Asked]:
    """Questions the FAQ asks itself: (text, hits, the entry that answers it, the index as the
    features must see it). Near misses have no answering entry (it is left out); other wordings
    of an entry still present are answered by it."""
    return [a for entry_id in sampled_entries(memory.lexical) for a in ask_entry(memory, entry_id, seed)]


def scored(gate: Gate, asked: Sequence[Asked]) -> list[Example]:
    """The shared score of each question after the re-rank, labelled 1 when the entry that
    answers it comes first."""
    from bot.drafting.gate import FEATURES, features, same_answer

    examples = []
    for text, hits, entry_id, view in asked:
        ordered = gate.order(text, [Hit(**{**vars(h), "extra": {}}) for h in hits], view)  # type: ignore[arg-type]
        # A twin of the entry (the same answer) first is as right as the entry.
        right = entry_id is not None and (
            ordered[0].id == entry_id or any(h.id == entry_id and same_answer(h, ordered[0]) for h in ordered))
        values = features(text, ordered, view)  # type: ignore[arg-type]
        examples.append(Example(gate.shared_logit(values), int(right), top=ordered[0].id, values=tuple(float(values[f]) for f in FEATURES)))
    return examples


def _median(values: list[float], default: float) -> float:
    return float(np.median(values)) if values else default


def calibrate(memory: FaqMemory, gate: Gate, stamp: str, previous: ShopCalibration | None = None,
              digests: dict[str, str] | None = None) -> ShopCalibration:
    """This shop's scale from its own FAQ: the shared model's reference points mapped onto it.

    With the `previous` calibration (same shared model), the questions it asked that no change
    can reach are kept as they were scored, and only the others are asked again."""
    started = time.perf_counter()
    digests = entry_digests(memory.lexical) if digests is None else digests
    kept = _unchanged_cases(memory, gate, previous, digests)
    cases: list[Case] = []
    for entry_id in sampled_entries(memory.lexical):
        cases += kept.get(entry_id) or _cases(memory, gate, entry_id)
    calibration = from_examples([Example(c.score, c.label) for c in cases], gate, stamp, started)
    calibration.model, calibration.cases, calibration.digests = gate.fingerprint, cases, digests
    calibration.reused = sum(len(v) for v in kept.values())
    return calibration


def _cases(memory: FaqMemory, gate: Gate, entry_id: str) -> list[Case]:
    pools: list[Pool] = []
    asked = ask_entry(memory, entry_id, pools=pools)
    return [
        Case(entry_id, text, answer is not None, round(example.score, 6), example.label,
             sorted({_short(e) for e in pool.entries}), round(pool.floor, 6))
        for (text, _, answer, _), example, pool in zip(asked, scored(gate, asked), pools, strict=True)
    ]


def _short(entry_id: str) -> str:
    # Enough to tell entries apart in a question's pool; a clash only asks a question again.
    return entry_id[:8]


def _unchanged_cases(memory: FaqMemory, gate: Gate, previous: ShopCalibration | None,
                     digests: dict[str, str]) -> dict[str, list[Case]]:
    """The previous calibration's cases no change reaches, by entry (an entry keeps its cases
    only when all of them are unchanged)."""
    if previous is None or previous.model != gate.fingerprint or not previous.cases:
        return {}
    changed = {e for e, d in digests.items() if previous.digests.get(e) != d} | (set(previous.digests) - set(digests))
    changed_short = {_short(e) for e in changed}
    rows = [r for e in changed for r in memory.rows_of.get(e, []) if not memory.learned[r]]
    closest = memory.vectors[rows] if rows else np.zeros((0, memory.vectors.shape[1]), np.float32)
    row_of = {(memory.lexical.docs[r].entry_id, memory.lexical.docs[r].text): r
              for e in {c.entry for c in previous.cases} for r in memory.rows_of.get(e, [])}
    by_entry: dict[str, list[Case]] = {}
    spoiled: set[str] = set()
    for case in previous.cases:
        row = row_of.get((case.entry, case.text))
        reached = (
            row is None or case.entry in changed or any(e in changed_short for e in case.near)
            # a new or changed phrasing closer than its pool's weakest may now be a candidate
            or (len(closest) and float((closest @ memory.vectors[row]).max()) > case.floor)
        )
        if reached:
            spoiled.add(case.entry)
        else:
            by_entry.setdefault(case.entry, []).append(case)
    return {e: cases for e, cases in by_entry.items() if e not in spoiled}


def from_examples(sim: Sequence[Example], gate: Gate, stamp: str, started: float | None = None) -> ShopCalibration:
    """The shift and scale that map this FAQ's simulated scores onto the shared reference points."""
    started = time.perf_counter() if started is None else started
    prior = gate.prior
    neg = [e.score for e in sim if e.label == 0]
    pos = [e.score for e in sim if e.label == 1]
    near, inside = _median(neg, prior.near_miss), _median(pos, prior.in_scope)
    # Shrink toward the shared reference points: a small FAQ says little about itself.
    weight = min(len(sim) / (len(sim) + prior.sim_trust), 1.0) if sim else 0.0
    near = weight * near + (1 - weight) * prior.near_miss
    inside = weight * inside + (1 - weight) * prior.in_scope
    spread = max(inside - near, prior.min_spread)
    ref_spread = prior.in_scope - prior.near_miss
    # Map this shop's (near miss, in scope) onto the shared ones, as far as `beta` says it carries.
    scale = 1.0 + prior.beta_scale * (ref_spread / spread - 1.0)
    shift = prior.beta_shift * (prior.near_miss - near * scale)
    return ShopCalibration(
        stamp=stamp, shift=shift, scale=scale, near_miss=near, in_scope=inside, simulated=len(sim),
        seconds=round(time.perf_counter() - started, 3), sim=[(round(e.score, 4), e.label) for e in sim],
    )


def refit(calibration: ShopCalibration, decisions: Sequence[Example], *, prior_weight: float = 30.0,
          floor: float = 0.25) -> tuple[float, float]:
    """Shift and scale re-fitted on staff decisions: logistic regression on the shared score,
    penalised toward the FAQ's own (shift, scale) with the weight of `prior_weight` examples, so
    a few decisions nudge it and many decide it; the scale never falls below `floor`."""
    fitted = fit_decisions(calibration, decisions, None, prior_weight=prior_weight, floor=floor)
    return fitted.shift, fitted.scale


@dataclass(frozen=True)
class Refit:
    shift: float
    scale: float
    weights: tuple[float, float] = (0.0, 0.0)  # the decision memory's (approved, rejected)
    moves: dict[str, float] = field(default_factory=dict)  # this shop's feature weights minus the shared ones
    centre: dict[str, float] = field(default_factory=dict)  # the decisions' mean of each feature


def fit_decisions(calibration: ShopCalibration, decisions: Sequence[Example], memory: DecisionMemory | None, *,
                  prior_weight: float = 30.0, floor: float = 0.25, balanced: bool | None = None,
                  shared: Gate | None = None) -> Refit:
    """This shop's scale, its own feature weights and how much its decision memory counts, fitted
    on staff decisions.

    Penalised logistic regression of "the first candidate is the one staff named" on the shared
    score, on the features behind it (with `shared`, the gate whose weights and feature spreads
    they start from) and, with a memory, on each decision's closeness to the *other* decisions
    (its own row left out, as a new message has no decision yet). Penalised toward the FAQ's own
    (scale, shift) with the weight of `prior_weight` examples, toward the shared feature weights
    with `FEATURE_TRUST` (each weight's move counted in its feature's spread over the shared
    fit's rows, so a few dozen decisions leave the shared model nearly as it is and a thousand
    weigh as much as it) and toward the memory not counting with `MEMORY_TRUST`. The moves
    act on features centred at the decisions' mean: they reorder this shop's messages against
    one another and leave the level to the shift. Sign bounds: the scale stays at or above
    `floor`; a feature that may only speak for answering (gate.MORE_IS_BETTER) keeps a weight
    ≥ 0 and one that may only speak against ≤ 0, as in the shared fit; closeness to an approval
    only speaks for answering and to a rejection only against.
    `balanced` weighs approvals and rejections alike however many of each staff decided; it was
    meant to stop a set of three approvals to each rejection pulling the boundary toward
    answering, and measured worse (benchmarks/README.md, "Learning from staff, this round"), so
    it is off unless asked for.
    """
    start = Refit(calibration.shift, calibration.scale)
    if not decisions or len({d.label for d in decisions}) < 2:
        return start
    rows = [[d.score, 1.0] for d in decisions]
    theta0 = [calibration.scale, calibration.shift]
    lower, upper = [floor, -np.inf], [np.inf, np.inf]
    lam = [prior_weight, prior_weight]
    with_memory = memory is not None and len(memory) > 0 and all(d.decision is not None for d in decisions)
    if with_memory:
        own = memory.own_signals([d.decision for d in decisions], [d.top for d in decisions])  # type: ignore[union-attr, misc]
        for row, signals in zip(rows, own):
            row.extend(signals)
        theta0 += [0.0, 0.0]
        lower += [0.0, -np.inf]
        upper += [np.inf, 0.0]
        lam += [MEMORY_TRUST, MEMORY_TRUST]
    moved = _movable(decisions, shared)
    centre: dict[str, float] = {}
    if moved:
        from bot.drafting.gate import FEATURES, MORE_IS_BETTER, MORE_IS_WORSE

        assert shared is not None
        at = [FEATURES.index(f) for f in moved]
        values = np.array([[d.values[i] for i in at] for d in decisions], dtype=float)  # type: ignore[index]
        mean = values.mean(axis=0)
        for row, v in zip(rows, values - mean):
            row.extend(v)
        for f in moved:
            # The shop's weight of f is scale·w + move; kept on the side its sign bound allows.
            w = shared.weights.get(f, 0.0) * calibration.scale
            theta0.append(0.0)
            lower.append(-w if f in MORE_IS_BETTER else -np.inf)
            upper.append(-w if f in MORE_IS_WORSE else np.inf)
            lam.append(FEATURE_TRUST * shared.feature_scale[f] ** 2)
        centre = {f: float(m) for f, m in zip(moved, mean)}
    x = np.array(rows, dtype=float)
    y = np.array([d.label for d in decisions], dtype=float)
    weight = np.ones(len(y))
    if BALANCED if balanced is None else balanced:
        share = y.mean()
        weight = np.where(y == 1, 0.5 / share, 0.5 / (1 - share))
    # The memory's weights start at "not counting" and need more evidence to move than the scale:
    # in a shop whose messages never repeat, closeness to a few dozen decisions is noise.
    theta = _bounded_logistic(x, y, weight, np.array(theta0), np.array(lam) / len(y), np.array(lower), np.array(upper))
    weights = (float(theta[2]), float(theta[3])) if with_memory else (0.0, 0.0)
    moves: dict[str, float] = {}
    if moved:
        from bot.drafting.gate import MORE_IS_BETTER, MORE_IS_WORSE

        assert shared is not None
        first = 4 if with_memory else 2
        for f, m in zip(moved, theta[first:]):
            # The bound was set at the FAQ's scale; the fitted scale may differ.
            w = shared.weights.get(f, 0.0) * float(theta[0])
            m = max(m, -w) if f in MORE_IS_BETTER else min(m, -w) if f in MORE_IS_WORSE else m
            moves[f] = float(m)
    return Refit(shift=float(theta[1]), scale=float(theta[0]), weights=weights, moves=moves, centre=centre)


def _movable(decisions: Sequence[Example], shared: Gate | None) -> list[str]:
    """The features a shop's re-fit may move: every one with a spread in the shared fit and in
    these decisions (a feature constant in either says nothing), when every decision has them."""
    if shared is None or not shared.feature_scale or any(d.values is None for d in decisions):
        return []
    from bot.drafting.gate import FEATURES

    values = np.array([d.values for d in decisions], dtype=float)
    if values.ndim != 2 or values.shape[1] != len(FEATURES):
        return []
    spread = values.std(axis=0)
    return [f for i, f in enumerate(FEATURES) if shared.feature_scale.get(f, 0.0) > 1e-9 and spread[i] > 1e-9]


def _bounded_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, theta0: np.ndarray, lam: np.ndarray,
                      lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Weighted logistic regression penalised by Σ lam_i/2·(θ_i−θ0_i)², θ within [lower, upper]: Newton
    steps on the free coordinates; a coordinate that leaves its bound is held there (active set)."""
    theta = np.clip(theta0.astype(float), lower, upper)
    free = np.ones(len(theta), dtype=bool)
    for _ in range(len(theta) + 1):
        for _ in range(50):
            p = 1 / (1 + np.exp(-np.clip(x @ theta, -60, 60)))
            grad = x.T @ ((p - y) * weight) / len(y) + lam * (theta - theta0)
            hess = (x.T * (p * (1 - p) * weight)) @ x / len(y) + np.diag(lam)
            f = np.flatnonzero(free)
            try:
                step = np.linalg.solve(hess[np.ix_(f, f)], grad[f])
            except np.linalg.LinAlgError:
                break
            theta[f] -= step
            if np.abs(step).sum() < 1e-8:
                break
        out = (theta < lower - 1e-12) | (theta > upper + 1e-12)
        if not out.any():
            return theta
        theta = np.clip(theta, lower, upper)
        free &= ~out
    return np.clip(theta, lower, upper)


def calibration_path(kb: KnowledgeBase) -> Path:
    from bot.knowledge.store import collection_name

    return kb.settings.data_dir / "gate" / f"{collection_name(kb.embedder)}.json"


def load_or_calibrate(kb: KnowledgeBase, gate: Gate) -> ShopCalibration:
    """The stored calibration when the FAQ is unchanged, else a new one (stored atomically)."""
    digests = entry_digests(kb.lexical)
    stamp = faq_stamp(kb.lexical, digests) + gate.fingerprint
    path = calibration_path(kb)
    stored = ShopCalibration.from_json(path.read_text(encoding="utf-8")) if path.exists() else None
    if stored is not None and stored.stamp == stamp:
        return stored
    calibration = calibrate(FaqMemory.of(kb), gate, stamp, previous=stored, digests=digests)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(path)
    tmp.write_text(calibration.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    logger.info("gate calibrated on %d simulated questions (%d kept from before) in %.1f s",
                calibration.simulated, calibration.reused, calibration.seconds)
    return calibration


def _tmp_beside(path: Path) -> Path:
    # Per process and thread: the bot's worker threads may store the same file at once, and a
    # shared name lets one move the other's half-written file or find it gone.
    return path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def decision_examples(kb: KnowledgeBase, gate: Gate, decisions: Sequence[LabelledQuestion]) -> list[Example]:
    """Staff decisions as labelled examples of the shared score: each message searched as it was
    before staff taught it (its own learned phrasing left out), label 1 when the entry staff
    named comes first, 0 when staff said the FAQ does not answer it or the wrong entry leads."""
    return decision_memory(kb, gate, decisions)[0]


def decision_memory(kb: KnowledgeBase, gate: Gate,
                    decisions: Sequence[LabelledQuestion]) -> tuple[list[Example], DecisionMemory | None]:
    """The latest `MAX_DECISIONS` decisions as examples (each knowing its row in the memory) and
    as a DecisionMemory of their messages' vectors.

    Each decision is embedded once per process and scored once per FAQ content and shared
    model: the assistant re-fits after every decision staff make, and only the new one needs an
    embedding and a search (`benchmarks` in the Gate section of benchmarks/README.md give the
    cost)."""
    from bot.knowledge.normalize import normalize_message

    recent = _latest(decisions)
    if not recent:
        return [], None
    stamp = faq_stamp(kb.lexical) + gate.fingerprint
    model = str(getattr(kb.embedder, "name", type(kb.embedder).__name__))
    path = decisions_path(kb)
    if _decision_cache.get("path") != path:
        _decision_cache.clear()
        _decision_cache["path"] = path
        _load_decisions(path, model, stamp)
    if _decision_cache.get("stamp") != stamp:
        # The FAQ changed: the old scores stand in until each decision is scored again.
        stale = _decision_cache.setdefault("stale", {})
        stale.update(_decision_cache.pop("examples", {}))  # type: ignore[attr-defined]
        _decision_cache["stamp"] = stamp
    known: dict[tuple[str, str | None], Example | None] = _decision_cache.setdefault("examples", {})  # type: ignore[assignment]
    stale: dict[tuple[str, str | None], Example | None] = _decision_cache.setdefault("stale", {})  # type: ignore[no-redef]
    vectors: dict[tuple[str, str], np.ndarray] = _decision_cache.setdefault("vectors", {})  # type: ignore[assignment]
    texts = {d.text: normalize_message(d.text) for d in recent}
    missing = [t for t in dict.fromkeys(texts.values()) if (model, t) not in vectors]
    if missing:
        for text, vector in zip(missing, kb.embedder.encode_queries(missing)):
            vectors[(model, text)] = np.asarray(vector, dtype=np.float32)
        while len(vectors) > 4 * MAX_DECISIONS:  # withdrawn decisions' vectors go first
            vectors.pop(next(iter(vectors)))
    # A decision never scored is scored now; after a FAQ change, at most RESCORE of those scored
    # on the old FAQ are (the newest first), so no re-fit costs more than RESCORE searches.
    unscored = [d for d in recent if (d.text, d.entry_id) not in known]
    todo = [d for d in unscored if (d.text, d.entry_id) not in stale]
    todo += [d for d in unscored if (d.text, d.entry_id) in stale][-RESCORE:]
    if todo:
        memory = FaqMemory.of(kb)
        learned_at: dict[str, list[int]] = {}
        for i, doc in enumerate(memory.lexical.docs):
            if doc.learned:
                learned_at.setdefault(doc.text, []).append(i)
        for d in todo:
            text = texts[d.text]
            own = learned_at.get(text, [])
            hits = memory.search(text, vectors[(model, text)], leave_out=own)
            view = LeftOut(memory.lexical, own, memory.rows_of) if own else memory.lexical
            known[(d.text, d.entry_id)] = scored(gate, [(text, hits, d.entry_id, view)])[0] if hits else None
            stale.pop((d.text, d.entry_id), None)
    if missing or todo:
        _save_decisions(path, model, stamp, recent, texts)
    stack = np.stack([vectors[(model, texts[d.text])] for d in recent])
    examples = [replace(e, decision=i) for i, d in enumerate(recent)
                if (e := known.get((d.text, d.entry_id), stale.get((d.text, d.entry_id)))) is not None]
    return examples, DecisionMemory.build(stack, [d.entry_id for d in recent], encoder=kb.embedder)


def decisions_path(kb: KnowledgeBase) -> Path:
    """Beside the shop's calibration: its decisions' vectors and scores, so that a new process
    (every CLI `ask`) does not embed and search the latest 500 decisions again."""
    path = calibration_path(kb)
    return path.with_name(f"{path.stem}.decisions.npz")


def _load_decisions(path: Path, model: str, stamp: str) -> None:
    """Fill the in-process cache from the file; a missing, foreign or damaged file is only a
    cache, recomputed."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["model"]) == model:
                vectors = _decision_cache.setdefault("vectors", {})
                for text, vector in zip(data["texts"].tolist(), data["vectors"]):
                    vectors[(model, text)] = np.asarray(vector, dtype=np.float32)  # type: ignore[index]
            current = str(data["stamp"]) == stamp
            if current:
                _decision_cache["stamp"] = stamp
            known = _decision_cache.setdefault("examples", {})
            stale = _decision_cache.setdefault("stale", {})
            if "ex_values" not in data.files:
                return  # a file from before the features were kept: its examples are scored again
            for text, entry, score, label, top, present, fresh, values in zip(
                data["ex_text"].tolist(), data["ex_entry"].tolist(), data["ex_score"].tolist(),
                data["ex_label"].tolist(), data["ex_top"].tolist(), data["ex_present"].tolist(),
                data["ex_fresh"].tolist(), data["ex_values"].tolist(),
            ):
                example = Example(score, int(label), top=top or None, values=tuple(values) or None) if present else None
                (known if current and fresh else stale)[(text, entry or None)] = example  # type: ignore[index]
    except (OSError, ValueError, KeyError, EOFError):
        return
    except Exception as exc:  # e.g. a truncated zip: still only a cache
        logger.info("decision cache %s not read: %s", path, exc)


def _save_decisions(path: Path, model: str, stamp: str, recent: Sequence[LabelledQuestion], texts: dict[str, str]) -> None:
    vectors: dict[tuple[str, str], np.ndarray] = _decision_cache["vectors"]  # type: ignore[assignment]
    known: dict[tuple[str, str | None], Example | None] = _decision_cache["examples"]  # type: ignore[assignment]
    stale: dict[tuple[str, str | None], Example | None] = _decision_cache["stale"]  # type: ignore[assignment]
    kept = list(dict.fromkeys(texts[d.text] for d in recent))
    rows = [(d.text, d.entry_id, known[key], True) if key in known else (d.text, d.entry_id, stale[key], False)
            for d in recent if (key := (d.text, d.entry_id)) in known or key in stale]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_beside(path)
        with tmp.open("wb") as fh:
            np.savez(
                fh, model=np.array(model), stamp=np.array(stamp), texts=np.array(kept, dtype=str),
                vectors=np.stack([vectors[(model, t)] for t in kept]).astype(np.float32),
                ex_text=np.array([r[0] for r in rows], dtype=str),
                ex_entry=np.array([r[1] or "" for r in rows], dtype=str),
                ex_score=np.array([r[2].score if r[2] else 0.0 for r in rows], dtype=float),
                ex_label=np.array([r[2].label if r[2] else 0 for r in rows], dtype=int),
                ex_top=np.array([(r[2].top or "") if r[2] else "" for r in rows], dtype=str),
                ex_present=np.array([r[2] is not None for r in rows], dtype=bool),
                ex_values=_values_array([r[2] for r in rows]),
                ex_fresh=np.array([r[3] for r in rows], dtype=bool),
            )
        os.replace(tmp, path)
    except OSError as exc:  # a read-only data dir: the next process computes them again
        logger.warning("decision cache %s not written: %s", path, exc)


def _values_array(examples: Sequence[Example | None]) -> np.ndarray:
    """The examples' features as one (n, k) array; an absent example's row is zeros (never read)."""
    width = max((len(e.values) for e in examples if e is not None and e.values), default=0)
    return np.array([list(e.values) if e is not None and e.values else [0.0] * width for e in examples],
                    dtype=float).reshape(len(examples), width)


def _latest(decisions: Sequence[LabelledQuestion]) -> list[LabelledQuestion]:
    """The latest `MAX_DECISIONS` (the database keeps one per message: a later decision on the
    same words replaces the earlier one)."""
    return list(decisions)[-MAX_DECISIONS:]


_decision_cache: dict[str, object] = {}


def shop_gate(kb: KnowledgeBase, gate: Gate | None = None, decisions: Sequence[LabelledQuestion] = ()) -> Gate:
    """The gate for this knowledge base: the shared model on this shop's own scale, fitted on its
    FAQ (stored, reused while the FAQ is unchanged) and re-fitted on staff decisions, which it
    also keeps as a memory the next message is compared with."""
    from bot.drafting.gate import default_gate

    base = gate or default_gate()
    if base.prior.version == "" or not kb.lexical.entries:
        return base  # a shared model fitted before per-shop scales existed, or an empty FAQ
    calibration = load_or_calibrate(kb, base)
    if decisions:
        examples, memory = decision_memory(kb, base, decisions)
        fitted = fit_decisions(calibration, examples, memory, prior_weight=base.prior.decision_trust,
                               floor=base.prior.scale_floor, shared=base if FEATURE_REFIT else None)
        if memory is not None:
            memory.weights = fitted.weights
            memory.boundary = float(np.log(base.threshold / (1 - base.threshold))) if 0 < base.threshold < 1 else None
        calibration = replace(calibration, shift=fitted.shift, scale=fitted.scale, decisions=len(examples),
                              moves=fitted.moves, centre=fitted.centre,
                              memory=memory if any(fitted.weights) else None)
    return base.for_shop(calibration)


def calibrate_after_sync(kb: KnowledgeBase) -> None:
    """The sync hook: fit the gate to the FAQ now rather than in the first customer's reply. A
    failure is logged and left to the first `ask`, which tries again; the sync stands."""
    from bot.drafting.gate import default_gate

    gate = default_gate()
    if gate.prior.version == "" or not kb.lexical.entries:
        return
    try:
        load_or_calibrate(kb, gate)
    except Exception as exc:  # the index is synced; the gate can still fit itself later
        logger.warning("gate calibration after sync failed: %s", exc)
