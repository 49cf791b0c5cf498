"""Phrasings staff taught, as more vectors of their entries in the index.

The database keeps them (bot/memory/learned.py); the index holds each as a vector
`<entry id>:L<n>` with `phrasing = -1` (bot/knowledge/store.py), searched like any phrasing and
in the lexical index too. An entry's own vectors are counted, checked and replaced without them,
and deleting the entry deletes them. Every sync puts back what the index lacks (a wiped data
dir, a new embedding model, a crash between the database and the index) and drops what staff
withdrew or what belonged to a removed entry.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from bot.knowledge.entries import Entry
from bot.knowledge.lexical import LexicalDoc, LexicalIndex
from bot.knowledge.retrieve import carry_over

if TYPE_CHECKING:
    from bot.knowledge.base import KnowledgeBase
    from bot.knowledge.store import StoredEntry, VectorStore


class LearnedSource(Protocol):
    """Where learned phrasings are kept (the database), so a sync can put them back."""

    def wanted(self) -> dict[str, tuple[str, str]] | None:
        """Vector id → (entry id, text) of every learned phrasing; None when they cannot be read
        (the index is then left as it is)."""
        ...

    def move(self, moves: Mapping[str, str]) -> bool:
        """Give an entry's learned phrasings and labels to the entry it became (old id → new
        id); False when they cannot be written (the sync then deletes nothing they need)."""
        ...

    def forget(self, entry_ids: Collection[str]) -> None:
        """Drop the phrasings learned for entries that no longer exist."""
        ...


def renamed(removed: Iterable[str], stored: Mapping[str, StoredEntry], current: Iterable[Entry]) -> dict[str, str]:
    """Old id → new id of entries that only changed file (renamed or moved: an entry's id is its
    file and question): the same content, word for word, removed under one id and present under
    exactly one other. Content that two entries share is not guessed at."""
    gone: dict[str, list[str]] = {}
    for entry_id in removed:
        if entry_id in stored:
            gone.setdefault(stored[entry_id].hash, []).append(entry_id)
    present: dict[str, list[str]] = {}
    for entry in current:
        if entry.content_hash in gone:
            present.setdefault(entry.content_hash, []).append(entry.id)
    return {old[0]: new[0] for h, old in gone.items() if len(old) == 1 and len(new := present.get(h, [])) == 1}


def reconcile(store: VectorStore, source: LearnedSource, known: Collection[str]) -> bool:
    """Bring the learned vectors in line with `source` for the entries in `known`; whether
    anything in the index changed. The caller holds the writer lock."""
    wanted = source.wanted()
    if wanted is None:
        return False
    stored = store.learned_vectors()
    gone = {entry_id for entry_id, _ in wanted.values() if entry_id not in known}
    surplus = [vid for vid in stored if vid not in wanted or wanted[vid][0] in gone]
    missing = [(vid, entry_id, text) for vid, (entry_id, text) in wanted.items()
               if entry_id in known and stored.get(vid) != text]
    if surplus:
        store.delete_vectors(surplus)
    if missing:
        store.upsert_learned(missing)
    if gone:
        source.forget(gone)
    return bool(surplus or missing)


def add(knowledge: KnowledgeBase, phrasings: Mapping[str, tuple[str, str]]) -> None:
    """Make learned phrasings (vector id → (entry id, text)) searchable at once; those of
    entries not in the index are skipped."""
    known = knowledge.lexical.entries
    items = [(vid, entry_id, text) for vid, (entry_id, text) in phrasings.items() if entry_id in known]
    if items:
        with knowledge.writing():
            current = _in_step(knowledge)
            knowledge.store.upsert_learned(items)
            knowledge.store.settle()
            _refresh(knowledge, current, added=items)


def remove(knowledge: KnowledgeBase, vector_ids: Iterable[str]) -> None:
    ids = list(vector_ids)
    if ids:
        with knowledge.writing():
            current = _in_step(knowledge)
            knowledge.store.delete_vectors(ids)
            _refresh(knowledge, current, removed=ids)


def _in_step(knowledge: KnowledgeBase) -> LexicalIndex | None:
    """The lexical index in memory when it holds exactly what Chroma holds (built from the last
    sync's content, as many phrasings), else None. Read under the writer lock."""
    lexical = knowledge.lexical
    if lexical.stamp == knowledge.generation() and len(lexical.docs) == knowledge.store.count():
        return lexical
    return None


def _refresh(
    knowledge: KnowledgeBase,
    current: LexicalIndex | None,
    added: Iterable[tuple[str, str, str]] = (),
    removed: Iterable[str] = (),
) -> None:
    """Put the change into the lexical index. From the index in memory when it was in step:
    reading every phrasing back from Chroma is most of the cost at 10,000 entries (4.9 of 8.8 s
    in benchmarks/learned_cost.py); else rebuilt from Chroma, as a sync does. The index in
    memory keeps its BM25 and its exact-search matrix, with only the taught vectors read."""
    if current is None:
        knowledge._rebuild_lexical()
        return
    new = [LexicalDoc(entry_id, text, vid) for vid, entry_id, text in added]
    gone = set(removed) | {doc.vector_id for doc in new}
    docs = sorted([d for d in current.docs if d.vector_id not in gone] + new, key=lambda d: d.vector_id)
    index = current.with_learned(docs)
    carry_over(current, index, knowledge.store, changed={doc.vector_id for doc in new})
    index.save(knowledge._lexical_dir)
    knowledge._lexical = index
