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
with the FAQ's content stamp and reused while the FAQ is unchanged.

Staff decisions (bot/memory/learned.py: a message and the entry that answers it, or none) are
labelled examples of the real thing: they re-fit the shift and scale by penalised logistic
regression that starts from the FAQ's own fit and trusts the decisions more as they grow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalIndex
from bot.knowledge.retrieve import Passages, ranked_hits

if TYPE_CHECKING:
    from bot.drafting.gate import Gate
    from bot.knowledge.base import KnowledgeBase
    from bot.memory.learned import LabelledQuestion

logger = logging.getLogger(__name__)

FORMAT = 1
MAX_ENTRIES = 200  # entries sampled for the simulation: enough for two parameters, bounded cost
PER_ENTRY = 2  # phrasings of each sampled entry asked each way
DENSE_CANDIDATES = 50
MAX_DECISIONS = 500  # the latest staff decisions a re-fit reads


@dataclass(frozen=True)
class Example:
    """One labelled question for the scale: the shared model's score and whether to answer."""

    score: float
    label: int  # 1 = the top hit is the right entry


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

    def logit(self, score: float) -> float:
        return self.scale * score + self.shift

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

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
            return cls(**data)
        except TypeError:
            return None


def faq_stamp(lexical: LexicalIndex) -> str:
    """A digest of the FAQ's own phrasings and answers: learned phrasings do not change it."""
    digest = hashlib.sha1()
    for doc in lexical.docs:
        if ":L" not in doc.vector_id:
            digest.update(f"{doc.vector_id}\x1f{doc.text}\x1e".encode())
    for entry_id in sorted(lexical.entries):
        digest.update(f"{entry_id}\x1f{lexical.entries[entry_id].get('answer', '')}\x1e".encode())
    return digest.hexdigest()


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
        self.learned = np.array([":L" in d.vector_id for d in lexical.docs], dtype=bool)
        self.rows_of: dict[str, list[int]] = {}
        for i, doc in enumerate(lexical.docs):
            self.rows_of.setdefault(doc.entry_id, []).append(i)

    @classmethod
    def of(cls, kb: KnowledgeBase) -> FaqMemory:
        # Chroma's own store holds the vectors; only ids and embeddings are read.
        got = kb.store._chroma._collection.get(include=["embeddings"])
        ids = list(got["ids"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(ids), -1) if ids else np.zeros((0, 0))
        return cls(kb.lexical, ids, vectors, kb.passages)

    def search(self, text: str, vector: np.ndarray, *, leave_out: Sequence[int], top_k: int = 5) -> list[Hit]:
        """The product's hybrid search of `text`, with the documents at rows `leave_out` (and
        any entry left with none) absent."""
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
            scores[self.learned] = 0.0
            k = min(weights.candidates * 3, scores.size)
            top = np.argpartition(-scores, k - 1)[:k]
            for i in top[np.argsort(-scores[top])]:
                if scores[i] <= 0:
                    break
                entry_id = docs[i].entry_id
                if entry_id not in lex:
                    lex[entry_id] = (entry_id, float(scores[i]), docs[i].text)
        return ranked_hits(
            text, vector, list(dense.values()), list(lex.values())[: weights.candidates],
            lexical=self.lexical, top_k=top_k, weights=weights, passages=self.passages,
        )


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


def simulate(memory: FaqMemory, seed: str) -> list[Asked]:
    """Questions the FAQ asks itself: (text, hits, the entry that answers it, the index as the
    features must see it). Near misses have no answering entry (it is left out); other wordings
    of an entry still present are answered by it."""
    lexical = memory.lexical
    faq = [e for e, meta in lexical.entries.items() if meta.get("kind", "faq") == "faq"]
    rng = random.Random(seed)
    sample = rng.sample(faq, min(MAX_ENTRIES, len(faq)))
    asked: list[Asked] = []
    for entry_id in sample:
        rows = [r for r in memory.rows_of.get(entry_id, []) if ":L" not in lexical.docs[r].vector_id]
        chosen = rows[:1] + rng.sample(rows[1:], min(PER_ENTRY - 1, len(rows) - 1))
        for r in chosen:
            text = lexical.docs[r].text
            hits = memory.search(text, memory.vectors[r], leave_out=memory.rows_of[entry_id])
            if hits:
                asked.append((text, hits, None, lexical))
            if len(rows) > 1:
                hits = memory.search(text, memory.vectors[r], leave_out=[r])
                if hits:
                    asked.append((text, hits, entry_id, LeftOut(lexical, [r], memory.rows_of)))
    return asked


def scored(gate: Gate, asked: Sequence[Asked]) -> list[Example]:
    """The shared score of each question after the re-rank, labelled 1 when the entry that
    answers it comes first."""
    examples = []
    for text, hits, entry_id, view in asked:
        ordered = gate.order(text, [Hit(**{**vars(h), "extra": {}}) for h in hits], view)  # type: ignore[arg-type]
        right = entry_id is not None and ordered[0].id == entry_id
        examples.append(Example(gate.score(text, ordered, view), int(right)))  # type: ignore[arg-type]
    return examples


def _median(values: list[float], default: float) -> float:
    return float(np.median(values)) if values else default


def calibrate(memory: FaqMemory, gate: Gate, stamp: str) -> ShopCalibration:
    """This shop's scale from its own FAQ: the shared model's reference points mapped onto it."""
    started = time.perf_counter()
    return from_examples(scored(gate, simulate(memory, stamp)), gate, stamp, started)


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
    if not decisions or len({d.label for d in decisions}) < 2:
        return calibration.shift, calibration.scale
    x = np.array([d.score for d in decisions])
    y = np.array([d.label for d in decisions], dtype=float)
    a0, b0 = calibration.scale, calibration.shift
    a, b = a0, b0
    lam = prior_weight / len(decisions)
    for _ in range(50):  # Newton steps on the mean penalised log loss
        p = 1 / (1 + np.exp(-(a * x + b)))
        w = p * (1 - p)
        ga = float(((p - y) * x).mean() + lam * (a - a0))
        gb = float((p - y).mean() + lam * (b - b0))
        haa = float((w * x * x).mean() + lam)
        hab = float((w * x).mean())
        hbb = float(w.mean() + lam)
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            break
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-8:
            break
    return b, max(a, floor)


def calibration_path(kb: KnowledgeBase) -> Path:
    from bot.knowledge.store import collection_name

    return kb.settings.data_dir / "gate" / f"{collection_name(kb.embedder)}.json"


def load_or_calibrate(kb: KnowledgeBase, gate: Gate) -> ShopCalibration:
    """The stored calibration when the FAQ is unchanged, else a new one (stored atomically)."""
    stamp = faq_stamp(kb.lexical) + gate.fingerprint
    path = calibration_path(kb)
    if path.exists():
        stored = ShopCalibration.from_json(path.read_text(encoding="utf-8"))
        if stored is not None and stored.stamp == stamp:
            return stored
    calibration = calibrate(FaqMemory.of(kb), gate, stamp)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(calibration.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    logger.info("gate calibrated on %d simulated questions in %.1f s", calibration.simulated, calibration.seconds)
    return calibration


def decision_examples(kb: KnowledgeBase, gate: Gate, decisions: Sequence[LabelledQuestion]) -> list[Example]:
    """Staff decisions as labelled examples of the shared score: each message searched as it was
    before staff taught it (its own learned phrasing left out), label 1 when the entry staff
    named comes first, 0 when staff said the FAQ does not answer it or the wrong entry leads."""
    from bot.knowledge.normalize import normalize_message

    recent = list(decisions)[-MAX_DECISIONS:]
    if not recent:
        return []
    # Each decision is scored once per FAQ content and shared model: the assistant re-fits after
    # every phrasing staff teach, and only the new decision needs a search.
    stamp = faq_stamp(kb.lexical) + gate.fingerprint
    if _decision_cache.get("stamp") != stamp:
        _decision_cache.clear()
        _decision_cache["stamp"] = stamp
    known: dict[tuple[str, str | None], Example | None] = _decision_cache.setdefault("examples", {})  # type: ignore[assignment]
    todo = [d for d in recent if (d.text, d.entry_id) not in known]
    if todo:
        memory = FaqMemory.of(kb)
        texts = [normalize_message(d.text) for d in todo]
        learned_at: dict[str, list[int]] = {}
        for i, doc in enumerate(memory.lexical.docs):
            if ":L" in doc.vector_id:
                learned_at.setdefault(doc.text, []).append(i)
        for d, text, vector in zip(todo, texts, kb.embedder.encode_queries(texts)):
            own = learned_at.get(text, [])
            hits = memory.search(text, vector, leave_out=own)
            view = LeftOut(memory.lexical, own, memory.rows_of) if own else memory.lexical
            known[(d.text, d.entry_id)] = scored(gate, [(text, hits, d.entry_id, view)])[0] if hits else None
    return [e for d in recent if (e := known[(d.text, d.entry_id)]) is not None]


_decision_cache: dict[str, object] = {}


def shop_gate(kb: KnowledgeBase, gate: Gate | None = None, decisions: Sequence[LabelledQuestion] = ()) -> Gate:
    """The gate for this knowledge base: the shared model on this shop's own scale, fitted on its
    FAQ (stored, reused while the FAQ is unchanged) and re-fitted on staff decisions."""
    from bot.drafting.gate import default_gate

    base = gate or default_gate()
    if base.prior.version == "" or not kb.lexical.entries:
        return base  # a shared model fitted before per-shop scales existed, or an empty FAQ
    calibration = load_or_calibrate(kb, base)
    if decisions:
        examples = decision_examples(kb, base, decisions)
        shift, scale = refit(calibration, examples, prior_weight=base.prior.decision_trust,
                             floor=base.prior.scale_floor)
        calibration = replace(calibration, shift=shift, scale=scale, decisions=len(examples))
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
