"""The knowledge base as the rest of the product sees it: sync the files, search the entries."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from bot.config import Settings
from bot.knowledge.embeddings import make_embeddings
from bot.knowledge.entries import Hit
from bot.knowledge.lexical import LexicalDoc, LexicalIndex
from bot.knowledge.normalize import normalize_message
from bot.knowledge.retrieve import FusionWeights, Passages, hybrid_search
from bot.knowledge.store import Embedder, VectorStore, collection_name
from bot.knowledge.sync import SyncReport, plan, scan

logger = logging.getLogger(__name__)

ENTRY_FIELDS = ("question", "answer", "source", "line", "category", "tags", "kind")


class KnowledgeBase:
    """Chroma plus the lexical index built from it, for one embedding model."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or make_embeddings(settings)
        self.store = VectorStore(settings, self.embedder)
        self.weights = FusionWeights()
        self._lexical_dir = settings.data_dir / "lexical" / collection_name(self.embedder)
        self._lexical: LexicalIndex | None = None
        self._passages: Passages | None = None

    def sync(
        self, *, dry_run: bool = False, progress: Callable[[int], Callable[[int], None]] | None = None
    ) -> SyncReport:
        """Bring the store in line with the knowledge dir; `progress(total)` returns a tick callback."""
        found = scan(self.settings.knowledge_dir)
        report = plan(found, self.store.stored_entries())
        report.dry_run = dry_run
        if dry_run:
            return report
        to_embed = report.added + report.updated
        # Entries whose passage vector is missing or stale (a store written before passages
        # existed, or a crash between the two upserts) get one without re-embedding phrasings.
        passages = self.store.stored_passages()
        fresh = {e.id for e in to_embed}
        behind = [e for e in found.entries.values()
                  if e.id not in fresh and passages.get(e.id) != e.content_hash]
        if to_embed or behind:
            total = sum(len(e.phrasings) if e.kind == "faq" else 1 for e in to_embed) + len(to_embed) + len(behind)
            tick = progress(total) if progress else None
            if to_embed:
                self.store.upsert(to_embed, tick)
            if behind:
                self.store.upsert_passages(behind, tick)
        if report.removed:
            self.store.delete(report.removed)
        if to_embed or behind or report.removed:
            self._passages = None
        if report.changed or not self._lexical_is_current():
            self._rebuild_lexical()
        return report

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        return hybrid_search(
            normalize_message(query),
            store=self.store,
            lexical=self.lexical,
            top_k=top_k,
            weights=self.weights,
            passages=self.passages,
        )

    @property
    def passages(self) -> Passages:
        if self._passages is None:
            self._passages = Passages(*self.store.passage_vectors())
        return self._passages

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            loaded = LexicalIndex.load(self._lexical_dir)
            if loaded is not None and len(loaded.docs) == self.store.count():
                self._lexical = loaded
            else:
                self._rebuild_lexical()
        assert self._lexical is not None
        return self._lexical

    def entry_count(self) -> int:
        return len(self.lexical.entries)

    def _lexical_is_current(self) -> bool:
        loaded = self._lexical or LexicalIndex.load(self._lexical_dir)
        return loaded is not None and len(loaded.docs) == self.store.count()

    def _rebuild_lexical(self) -> None:
        """Rebuild the lexical index from what Chroma holds, so the two never disagree for long."""
        vectors = sorted(self.store.all_vectors(), key=lambda v: v.vector_id)
        docs = [LexicalDoc(v.entry_id, v.text, v.vector_id) for v in vectors]
        entries = {
            v.entry_id: {k: v.metadata.get(k, "") for k in ENTRY_FIELDS}
            for v in vectors
            if v.metadata.get("phrasing") == 0
        }
        stamp = hashlib.sha1("".join(f"{v.vector_id}{v.metadata.get('hash')}" for v in vectors).encode()).hexdigest()
        self._lexical = LexicalIndex(docs, entries, stamp=stamp)
        self._lexical.save(self._lexical_dir)
        logger.info("lexical index rebuilt: %d phrasings of %d entries", len(docs), len(entries))
