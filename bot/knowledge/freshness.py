"""Is what we serve what the files say? A generation stamp derived from the stored content.

An entry's content hash is what its question vector carries; the store commits an entry by
writing that vector last (bot/knowledge/store.py). The generation is a digest of every
committed entry's id and hash, so it changes whenever any answer does, not only when the
number of vectors does (an answer edited 299 → 399 元 keeps every count).

The lexical index records the generation it was built from; a sync rebuilds it whenever that
differs from the store's, and writes the generation to the sync state LAST. So a sync killed at
any point leaves either a stale stamp (the next sync rebuilds) or nothing to do. Readers compare
the lexical index's stamp with the recorded state, which is one small file read.
`KnowledgeBase.generation()` is the value to publish elsewhere (a database row that another
replica polls, say).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path


# Recorded while a sync writes: no lexical index carries it, so a reader rebuilds from the store.
SYNC_IN_PROGRESS = "sync-in-progress"


def content_generation(hashes: Mapping[str, str]) -> str:
    """Digest of entry id → content hash; the same content gives the same generation."""
    digest = hashlib.sha1()
    for entry_id in sorted(hashes):
        digest.update(f"{entry_id}\x1f{hashes[entry_id]}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class SyncState:
    """What the last completed sync left behind."""

    generation: str
    entries: int
    vectors: int
    finished_at: str
    # The passage records' form the sync left (bot/knowledge/units.py); 0: written before forms.
    passage_form: int = 0

    @classmethod
    def read(cls, path: Path) -> SyncState | None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            # A field it lacks takes its default (a state written before it); a required one, TypeError.
            return cls(**{name: payload[name] for name in cls.__dataclass_fields__ if name in payload})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        """Atomically (a crash leaves the old state or the new one, never half of either)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(asdict(self), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    @classmethod
    def now(cls, generation: str, entries: int, vectors: int, passage_form: int = 0) -> SyncState:
        return cls(generation, entries, vectors, time.strftime("%Y-%m-%dT%H:%M:%S%z"), passage_form)
