"""The knowledge base as the rest of the product sees it: sync the files, search the entries.

A sync holds the writer lock (bot/knowledge/lock.py) from reading what is stored to recording
the new generation (bot/knowledge/freshness.py), so two never interleave; any crash inside it
is finished by the next sync, because every step is judged by content, not by counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property

from bot.config import Settings
from bot.errors import DianxiaoerError
from bot.knowledge.doctor import counts_agree, diagnose, repair
from bot.knowledge.entries import Hit
from bot.knowledge.faults import Faults
from bot.knowledge.freshness import SYNC_IN_PROGRESS, SyncState, content_generation
from bot.knowledge import learned_phrasings
from bot.knowledge.learned_phrasings import LearnedSource
from bot.policy.loader import RulesFileError, shop_rules, use_shop_rules
from bot.knowledge.lexical import LexicalDoc, LexicalIndex
from bot.knowledge.lock import say_waiting, writer_lock
from bot.knowledge.normalize import normalize_message
from bot.knowledge.replica import Replica
from bot.knowledge.retrieve import FusionWeights, Passages, hybrid_search
from bot.knowledge.store import Embedder, StoredEntry, VectorStore, collection_name
from bot.limits import SEARCH_CHARS, bound_message
from bot.knowledge.sync import MassDeleteRefused, SyncReport, plan, refuse_mass_delete, scan
from bot.knowledge.units import PASSAGE_FORM

logger = logging.getLogger(__name__)

ENTRY_FIELDS = ("question", "answer", "source", "line", "category", "tags", "kind")
Progress = Callable[[int], Callable[[int], None]]


class KnowledgeBase:
    """Chroma plus the lexical index built from it, for one embedding model."""

    def __init__(
        self, settings: Settings, *, embedder: Embedder, learned: LearnedSource | None = None
    ) -> None:
        # The embedder is given, never built here: one model per process, built by the
        # composition root (bot/services.py) or by a test or benchmark that says which.
        self.settings = settings
        self.learned = learned  # phrasings staff taught, which every sync puts back
        self.embedder = embedder
        self.weights = FusionWeights()
        self.faults = Faults(settings)
        name = collection_name(self.embedder)
        self._lexical_dir = settings.data_dir / "lexical" / name
        self._state_path = settings.data_dir / "sync_state" / f"{name}.json"
        self._lexical: LexicalIndex | None = None
        self._passages: Passages | None = None
        # Set by the composition root when replicas share a Chroma server (bot/knowledge/replica.py).
        self.replica: Replica | None = None
        # Called after every sync that was not a dry run (the gate fits itself to the FAQ here).
        self.after_sync: list[Callable[[KnowledgeBase], None]] = []

    @cached_property
    def store(self) -> VectorStore:
        # Opened on first use, so that a sync opens Chroma only once it holds the writer lock
        # (two processes creating the same new store at once collide on its tables).
        store = VectorStore(self.settings, self.embedder)
        store.after_write = self.faults.batch_written
        return store

    def generation(self) -> str | None:
        """The content generation the last completed sync left (None: never synced by this
        version). The lexical index in use was built from exactly this content."""
        state = SyncState.read(self._state_path)
        return state.generation if state else None

    @contextmanager
    def writing(self, waiting: Callable[[str], None] = say_waiting) -> Iterator[None]:
        """Hold the writer lock; a second writer waits up to `sync_lock_timeout` seconds."""
        lock = writer_lock(self.settings)
        lock.acquire(self.settings.sync_lock_timeout, waiting)
        try:
            yield
        finally:
            lock.release()

    def sync(
        self,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        allow_mass_delete: bool = False,
        repair_all: bool = False,
    ) -> SyncReport:
        """Bring the store in line with the knowledge dir; `progress(total)` returns a tick callback.

        `repair_all` also reads every embedding and rebuilds whatever is broken (`index --repair`).
        """
        found = scan(self.settings.knowledge_dir, max_bytes=int(self.settings.knowledge_max_file_mb * 1e6))
        # The shop's hand-off rules file lives in the same folder: a sync puts an edited one in
        # force, a dry run only reads it, and a bad one is reported like a bad FAQ file (the
        # rules in force stay).
        try:
            (shop_rules if dry_run else use_shop_rules)(self.settings.knowledge_dir)
        except RulesFileError as error:
            found.errors.append(error)
        if dry_run:
            with self.writing():
                stored = self.store.stored_entries()
            report = plan(found, stored)
            report.dry_run = True
            try:
                refuse_mass_delete(report, stored, self.settings.knowledge_dir)
            except MassDeleteRefused as refused:
                report.warnings.append(f"不加 --allow-mass-delete 的同步会被拒绝：{refused}")
            return report
        with self.writing():
            stored = self.store.stored_entries()
            report = plan(found, stored)
            if not allow_mass_delete:
                refuse_mass_delete(report, stored, self.settings.knowledge_dir)
            last = SyncState.read(self._state_path)
            # A sync that died part-way (killed, or an exception in this process) may have written
            # vectors this one does not write again: then every vector is looked up, not only ours.
            unfinished = last is None or last.generation == SYNC_IN_PROGRESS
            if (report.added or report.updated or report.removed) and last is not None:
                # Until this sync's own state is written, readers must not take the old lexical index
                # for current: killed after embedding an answer edited 299 → 399 元, a new process
                # would otherwise keep answering 299 until the next sync. They rebuild from Chroma.
                # (finished_at stays the last completed sync's: /kb reports when that was.)
                replace(last, generation=SYNC_IN_PROGRESS).write(self._state_path)
            self.faults.phase("locked")
            # In scan order, smallest file first: an edit to the FAQ is not held up behind a new
            # long document's passages, and whatever a crash interrupts, small files are done.
            changed = {e.id for e in report.added + report.updated}
            to_embed = [e for e in found.entries.values() if e.id in changed]
            # Entries whose passage record is stale get one without re-embedding phrasings. Only
            # a store written before passages were part of an entry's commit, or before they
            # carried the answer's sentences, can have them, so the passage hashes are read once,
            # on the first sync by a version that writes a new form.
            behind = []
            if repair_all or last is None or last.passage_form != PASSAGE_FORM:
                passages = self.store.stored_passages()
                fresh = {e.id for e in to_embed}
                behind = [e for e in found.entries.values()
                          if e.id not in fresh and e.id in stored and passages.get(e.id) != e.content_hash]
            total = sum(len(e.phrasings) if e.kind == "faq" else 1 for e in to_embed) + len(to_embed) + len(behind)
            tick = progress(total) if progress and total else None
            if to_embed:
                self.store.upsert(to_embed, tick)
            if behind:
                self.store.upsert_passages(behind, tick)
            self.faults.phase("embedded")
            if report.removed and self.learned is not None:
                # Before the old entries go: a renamed or moved file gives its entries new ids, and
                # what staff taught them would otherwise be forgotten with the old ones. Killed
                # before this, the next sync finds the same pairs (the old entries are still stored).
                moves = learned_phrasings.renamed(report.removed, stored, found.entries.values())
                if moves and not self.learned.move(moves):
                    report.removed = [r for r in report.removed if r not in moves]
            if report.removed:
                self.store.delete(report.removed)
            self.faults.phase("deleted")
            now = {k: v for k, v in stored.items() if k not in set(report.removed)}
            now.update({e.id: StoredEntry(e.content_hash, e.source, None) for e in to_embed})
            learned = self.learned is not None and learned_phrasings.reconcile(self.store, self.learned, now.keys())
            repaired = False
            if repair_all or not counts_agree(self.store, now, found.entries):
                diagnosis = diagnose(self.store, found.entries, embeddings=repair_all)
                if not diagnosis.ok:
                    report.problems = _first(diagnosis.problems)
                    report.repaired, report.unrepaired = repair(self.store, diagnosis, found.entries, None)
                    repaired = True
            settled = self.store.settle(everything=unfinished)  # what was written can be found by search
            if settled.found:
                report.problems.append(f"{len(settled.found)} 个刚写入的问法向量检索不到（Chroma 检索图的偶发问题）")
                if settled.lost:
                    report.unrepaired.append(
                        f"{len(settled.lost)} 个问法向量重建检索图后仍检索不到（{'、'.join(settled.lost[:5])}）："
                        "运行 dianxiaoer index --repair"
                    )
                else:
                    report.repaired.append(f"{len(settled.found)} 个刚写入的问法向量原先检索不到，已重新读取或重建检索图")
            self.faults.phase("checked")
            generation = content_generation({k: v.hash for k, v in now.items()})
            if to_embed or behind or report.removed or repaired:
                self._passages = None
            if (report.changed or repaired or repair_all or learned
                    or LexicalIndex.saved_stamp(self._lexical_dir) != generation):
                generation = self._rebuild_lexical().stamp
            self.faults.phase("lexical")
            SyncState.now(generation, len(now), self.store.count(), PASSAGE_FORM).write(self._state_path)
            if self.replica is not None:
                # Passage records rewritten in a new form change no content: say so, or the other
                # replicas would keep serving the passages they loaded before.
                self.replica.publish(f"{generation}/{PASSAGE_FORM}" if behind else generation, len(now))
            self.faults.phase("done")
        for hook in self.after_sync:
            hook(self)
        return report

    def add_learned(self, phrasings: Mapping[str, tuple[str, str]]) -> None:
        """Learned phrasings (vector id → (entry id, text)), searchable at once."""
        learned_phrasings.add(self, phrasings)

    def remove_learned(self, vector_ids: Iterable[str]) -> None:
        learned_phrasings.remove(self, vector_ids)

    def check(self) -> list[str]:
        """Everything wrong with the store, read-only: entries out of date with the files,
        vectors missing, stale, surplus or without embeddings, a stale lexical index."""
        return self.verify()[0]

    def verify(self) -> tuple[list[str], list[str]]:
        """`check`'s problems, and what in the knowledge files cannot be read (a sync keeps those
        files' entries as they were: the store can match every readable line and still not say
        what a file says), from one reading of the files."""
        found = scan(self.settings.knowledge_dir, max_bytes=int(self.settings.knowledge_max_file_mb * 1e6))
        with self.writing():
            stored = self.store.stored_entries()
            report = plan(found, stored)
            problems = _first(f"文件里有、索引里没有：{e.source}:{e.line}「{e.question}」" for e in report.added)
            problems += _first(f"文件里已修改、索引里还是旧的：{e.source}:{e.line}「{e.question}」" for e in report.updated)
            problems += _first(f"文件里已删除、索引里还在：{stored[e].source} 的条目 {e}" for e in report.removed)
            problems += _first(diagnose(self.store, found.entries, embeddings=True).problems)
            generation = content_generation({k: v.hash for k, v in stored.items()})
            lexical = LexicalIndex.load(self._lexical_dir)
            if lexical is None:
                problems.append("词法索引不存在或无法读取")
            else:
                if lexical.stamp != generation:
                    problems.append("词法索引与向量库内容不一致（建于旧内容）")
                vectors = {v.vector_id: v.text for v in self.store.all_vectors()}
                docs = {d.vector_id: d.text for d in lexical.docs}
                if docs != vectors:
                    problems.append(
                        f"词法索引与向量库的问法不一致（缺 {len(vectors.keys() - docs.keys())}，"
                        f"多 {len(docs.keys() - vectors.keys())}，"
                        f"文字不同 {sum(1 for k in docs.keys() & vectors.keys() if docs[k] != vectors[k])}）"
                    )
            if SyncState.read(self._state_path) is None and not stored:
                problems = ["还没有同步过：运行 dianxiaoer index"]
            elif self.generation() != generation:
                problems.append("上一次同步没有完成（同步状态与内容不符）")
        return problems, [str(error) for error in found.errors]

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        if self.replica is not None:
            self.replica.follow(self)
        cut = bound_message(query, self.settings)  # a pasted novel is searched by its start, and said so
        if cut.note:
            logger.warning("%s", cut.note)
        return hybrid_search(
            normalize_message(cut.text[:SEARCH_CHARS]),
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
            recorded = self.generation()
            if (loaded is not None and (recorded is None or loaded.stamp == recorded)
                    and len(loaded.docs) == self.store.count()):
                self._lexical = loaded
            else:
                # A sync is running or died: serve what Chroma holds now. Save it only if no
                # writer is at work; the sync's own rebuild is the one that counts.
                lock = writer_lock(self.settings)
                try:
                    held = lock.try_acquire()
                except DianxiaoerError:  # a read-only data dir: search still works, nothing saved
                    held = False
                if held:
                    try:
                        self._rebuild_lexical()
                    finally:
                        lock.release()
                else:
                    self._lexical = self._build_lexical()
        assert self._lexical is not None
        return self._lexical

    def entry_count(self) -> int:
        return len(self.lexical.entries)

    def _build_lexical(self) -> LexicalIndex:
        vectors = sorted(self.store.all_vectors(), key=lambda v: v.vector_id)
        docs = [LexicalDoc(v.entry_id, v.text, v.vector_id) for v in vectors]
        entries = {
            v.entry_id: {k: v.metadata.get(k, "") for k in ENTRY_FIELDS}
            for v in vectors
            if v.metadata.get("phrasing") == 0
        }
        stamp = content_generation({v.entry_id: str(v.metadata.get("hash")) for v in vectors if v.metadata.get("phrasing") == 0})
        return LexicalIndex(docs, entries, stamp=stamp)

    def _rebuild_lexical(self) -> LexicalIndex:
        """Rebuild the lexical index from what Chroma holds, so the two never disagree for long."""
        self._lexical = self._build_lexical()
        self._lexical.save(self._lexical_dir)
        logger.info("lexical index rebuilt: %d phrasings of %d entries", len(self._lexical.docs), len(self._lexical.entries))
        return self._lexical


def _first(problems: Iterable[str], shown: int = 20) -> list[str]:
    """At most `shown` problems of one kind, then how many more: 800 lines help nobody."""
    listed = list(problems)
    if len(listed) <= shown:
        return listed
    return listed[:shown] + [f"……同类问题还有 {len(listed) - shown} 个"]
