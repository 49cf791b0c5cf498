"""An answer's sentences, each embedded on its own, and how their vectors are stored.

The passage vector reads an entry's question and answer as one text, which blurs what the
answer says into what it is about. A message the answer really answers sits close to one of its
sentences; a near miss on the entry's topic (a size, a price, a case the answer never states)
sits close to none (`benchmarks/gate_sentences.py`: the held-out AUC rose in 18 of 19 shops).

Units of an answer: its sentences (split after 。！？；; ! ? and line breaks), and for a sentence
longer than `LONG` characters also its clauses (split after ，/, — a clause too short to say
anything is joined to the next). Pieces shorter than `SHORT` characters (亲， 好的。) are dropped;
an answer with no unit left is one unit. A long document keeps its first `MOST` units.

The vectors travel inside the entry's passage record (`UNITS_KEY` in its metadata, float16,
base64), so they are written, replaced and deleted with it in one upsert: a sync killed at any
point never leaves an answer's sentences from another version of it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable

import numpy as np

LONG = 40  # characters: a sentence longer than this is also read clause by clause
SHORT = 4  # characters: shorter pieces carry no content of their own
CLAUSE = 8  # characters: a shorter clause is joined to the next
MOST = 24  # units per entry: a long document's first ones (its metadata stays small)
UNITS_KEY = "units"
# The passage record's form: bumped when what it carries changes, so a sync writes older ones again.
PASSAGE_FORM = 2
FORM_KEY = "form"

_SENTENCE_END = re.compile(r"(?<=[。！？；;!?\n])")
_CLAUSE_END = re.compile(r"(?<=[，,])")


def answer_units(answer: str, *, long: int = LONG) -> list[str]:
    """The sentences of `answer`, and the clauses of its sentences longer than `long` characters
    (see the module doc)."""
    units: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(answer)):
        if len(sentence) < SHORT:
            continue
        units.append(sentence)
        if len(sentence) > long:
            clauses = _clauses(sentence)
            if len(clauses) > 1:
                units += [c for c in clauses if len(c) >= SHORT]
    units = list(dict.fromkeys(units))[:MOST]
    return units or ([answer.strip()] if answer.strip() else [])


def _clauses(sentence: str) -> list[str]:
    return joined(_CLAUSE_END.split(sentence), CLAUSE)


def joined(pieces: Iterable[str], at_least: int, size: Callable[[str], int] = lambda p: len(p.strip())) -> list[str]:
    """`pieces` in order, each too short one (by `size`) joined to the next, and a short last
    one to the one before."""
    out: list[str] = []
    pending = ""
    for piece in pieces:
        pending += piece
        if size(pending) >= at_least:
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        if out:
            out[-1] += pending.strip()
        else:
            out.append(pending.strip())
    return out


def pack(vectors: np.ndarray) -> str:
    """Unit-length rows as text for a metadata field (float16 is ample for a cosine)."""
    rows = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    rows = rows / np.where(norms == 0, 1, norms)
    return base64.b64encode(rows.astype("<f2").tobytes()).decode("ascii")


def unpack(text: str, dim: int) -> np.ndarray:
    """The rows `pack` wrote, kept in float16 (half the memory of 60,000 sentences at 10,000
    entries); none when the field is empty or not of this model's size."""
    if not text or not dim:
        return np.zeros((0, dim), dtype=np.float16)
    raw = np.frombuffer(base64.b64decode(text), dtype="<f2")
    if raw.size % dim:
        return np.zeros((0, dim), dtype=np.float16)
    return raw.reshape(-1, dim)
