"""What staff decided, remembered per shop: the nearest decisions lean the gate.

A customer who asks what another customer asked last week usually asks it in nearly the same
words. When staff rejected that earlier draft (the FAQ does not answer it), a new message close
to it should lean to hand-off; when staff approved an entry for it, a new message close to it
whose best candidate is that same entry should lean to answering. The gate's shared score cannot
know either: this is what one shop's staff said about one shop's customers.

Closeness is read relative to this shop's own decisions, not as an absolute cosine: how close
one of its decisions usually is to the nearest other one (median and spread of those nearest
cosines) is the shop's scale, since a shop selling one kind of thing has every message close to
every other. Each of the two signals is clipped, and how much each counts is fitted per shop on
the decisions themselves, each scored against the others (bot/drafting/calibration.py), with
sign bounds — closeness to a rejection can only lean to hand-off, closeness to an approval of the
same entry only to answering — and a penalty toward not counting at all. Where a shop's messages
never repeat, the fit leaves both near zero; where they do, it trusts them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

CLIP = 3.0  # a relative closeness counts at most this many of the shop's spreads either way
MIN_SPREAD = 0.02  # a cosine spread narrower than this says nothing about the shop's scale
SIGNALS = ("approved", "rejected")


class QueryEncoder(Protocol):
    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


@dataclass
class DecisionMemory:
    """Labelled messages with their vectors: entries[i] answers message i (None: staff rejected it)."""

    vectors: np.ndarray  # (n, dim), unit length
    entries: list[str | None]
    centre: float  # median cosine from a decision to its nearest other decision
    spread: float  # their standard deviation (at least MIN_SPREAD)
    weights: tuple[float, float] = (0.0, 0.0)  # (approved ≥ 0, rejected ≤ 0), fitted per shop
    encoder: QueryEncoder | None = None  # embeds a new message; None = cannot adjust
    boundary: float | None = None  # the logit of this shop's threshold, when known
    _cache: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict, repr=False)
    _code_array: np.ndarray | None = field(default=None, repr=False)
    _code_of: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, vectors: np.ndarray, entries: Sequence[str | None], encoder: QueryEncoder | None = None) -> DecisionMemory:
        vectors = unit(vectors) if len(entries) else np.zeros((0, 0), dtype=np.float32)
        centre, spread = _scale(vectors)
        return cls(vectors, list(entries), centre, spread, encoder=encoder)

    def __len__(self) -> int:
        return len(self.entries)

    def relative(self, cosine: float | None) -> float:
        """A cosine on this shop's scale, clipped; no decision at all counts as the farthest."""
        if cosine is None:
            return -CLIP
        return float(np.clip((cosine - self.centre) / self.spread, -CLIP, CLIP))

    def signals(self, vector: np.ndarray, top: str | None) -> np.ndarray:
        """(closeness to the nearest approval of `top`, closeness to the nearest rejection),
        relative to this shop, for a new message's vector."""
        return self._signals(self.vectors @ unit(vector)[0], [top])[0] if self.entries else np.array([-CLIP, -CLIP])

    def own_signals(self, rows: Sequence[int], tops: Sequence[str | None]) -> np.ndarray:
        """The same for decisions already in the memory, each against the *others* (its own row
        left out, as a new message has no decision yet): one row of signals per decision."""
        if not len(rows):
            return np.zeros((0, 2))
        cos = self.vectors[list(rows)] @ self.vectors.T
        cos[np.arange(len(rows)), list(rows)] = -2.0
        return self._signals(cos, tops)

    def _signals(self, cos: np.ndarray, tops: Sequence[str | None]) -> np.ndarray:
        cos = np.atleast_2d(cos)
        codes = self._codes()
        out = np.full((len(cos), 2), -CLIP)
        rejected = codes == -1
        if rejected.any():
            out[:, 1] = self._relative(cos[:, rejected].max(axis=1))
        wanted = np.array([self._code_of.get(t, -2) if t is not None else -2 for t in tops])
        for code in np.unique(wanted[wanted >= 0]):
            rows = np.flatnonzero(wanted == code)
            out[rows, 0] = self._relative(cos[np.ix_(rows, np.flatnonzero(codes == code))].max(axis=1))
        return out

    def _relative(self, cosines: np.ndarray) -> np.ndarray:
        # A cosine of -2 is a left-out row with nothing else of its kind: the farthest.
        return np.where(cosines <= -2.0, -CLIP, np.clip((cosines - self.centre) / self.spread, -CLIP, CLIP))

    def _codes(self) -> np.ndarray:
        """Each decision's entry as a number (-1: rejected), built once."""
        if self._code_array is None or len(self._code_array) != len(self.entries):
            self._code_of = {}
            for e in self.entries:
                if e is not None:
                    self._code_of.setdefault(e, len(self._code_of))
            self._code_array = np.array([self._code_of[e] if e is not None else -1 for e in self.entries], dtype=int)
        return self._code_array

    def reach(self) -> float:
        """The most the decisions can move a logit either way."""
        return CLIP * (abs(self.weights[0]) + abs(self.weights[1]))

    def adjust(self, query: str, top: str | None, logit: float | None = None) -> float:
        """What the decisions add to the gate's logit for `query` answered by `top`. Given the
        logit before it, a message further from this shop's threshold than the decisions can
        reach is left as it is: the decision cannot change, and no embedding is spent."""
        if not any(self.weights) or not self.entries or self.encoder is None or not query:
            return 0.0  # nothing learned to lean on
        if logit is not None and self.boundary is not None and abs(logit - self.boundary) > self.reach():
            return 0.0
        return float(np.dot(self.weights, self.signals(self._vector(query), top)))

    def _vector(self, query: str) -> np.ndarray:
        # The planner asks the gate about the same message once per reading; embed it once.
        with self._lock:
            found = self._cache.get(query)
            if found is not None:
                self._cache.move_to_end(query)
                return found
        assert self.encoder is not None
        # The embedder keeps the vectors retrieval just made for this message: no second embedding.
        encode = getattr(self.encoder, "encode_query", None)
        vector = encode(query) if encode is not None else self.encoder.encode_queries([query])[0]
        with self._lock:
            self._cache[query] = vector
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return vector


def _scale(vectors: np.ndarray) -> tuple[float, float]:
    """Median and spread of each decision's cosine to its nearest other decision."""
    if len(vectors) < 3:
        return 1.0, 1.0  # too few to say: every closeness reads as far (clipped low)
    cos = vectors @ vectors.T
    np.fill_diagonal(cos, -2.0)
    nearest = cos.max(axis=1)
    return float(np.median(nearest)), max(float(nearest.std()), MIN_SPREAD)
