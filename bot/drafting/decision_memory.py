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
    _cache: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict, repr=False)
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

    def signals(self, vector: np.ndarray, top: str | None, *, leave_out: int | None = None) -> np.ndarray:
        """(closeness to the nearest approval of `top`, closeness to the nearest rejection),
        relative to this shop; `leave_out` is a decision's own index when scoring it."""
        if not self.entries:
            return np.array([-CLIP, -CLIP])
        cos = self.vectors @ unit(vector)[0]
        if leave_out is not None:
            cos[leave_out] = -2.0
        approved = [c for c, e in zip(cos, self.entries) if e is not None and e == top and c > -2.0]
        rejected = [c for c, e in zip(cos, self.entries) if e is None and c > -2.0]
        return np.array([
            self.relative(max(approved) if approved else None),
            self.relative(max(rejected) if rejected else None),
        ])

    def adjust(self, query: str, top: str | None) -> float:
        """What the decisions add to the gate's logit for `query` answered by `top`."""
        if not any(self.weights) or not self.entries or self.encoder is None or not query:
            return 0.0  # nothing learned to lean on: no embedding spent
        return float(np.dot(self.weights, self.signals(self._vector(query), top)))

    def _vector(self, query: str) -> np.ndarray:
        # The planner asks the gate about the same message once per reading; embed it once.
        with self._lock:
            found = self._cache.get(query)
            if found is not None:
                self._cache.move_to_end(query)
                return found
        assert self.encoder is not None
        vector = self.encoder.encode_queries([query])[0]
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
