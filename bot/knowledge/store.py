"""FAQ vectors in Chroma, one vector per phrasing of an entry, plus one for what it says.

Vector ids are `<entry id>:<n>`, n = 0 for the question and 1.. for its similar questions, so
an entry's vectors can be replaced by upserting the new ones and deleting the surplus: a
crash between the two leaves every entry searchable, either as it was or as it is now.
Metadata carries everything a hit needs, so search never goes back to the files.

The question vector (n = 0) carries the content hash that sync compares with the files, so it
is what commits an entry: it is written after the entry's passage and similar questions and
after its surplus vectors are gone. A crash anywhere before leaves the old hash (or none), and
the next sync writes the entry again; a hash never vouches for vectors that were not written.
Entries are written a group at a time, so a crash loses at most one group's work.

Phrasings staff taught (bot/memory/learned.py) are more vectors of their entry, `<entry id>:L<n>`,
marked `phrasing = -1` and `learned = 1`: an entry's own phrasings are counted and replaced
without them, and deleting the entry deletes them too.

A second collection holds one passage vector per entry (its question and answer, embedded as
a passage, id = entry id). Matching a question to the FAQ's phrasings finds the neighbourhood;
matching it to the answers tells which of the close entries actually says what was asked
("3000 积分能抵多少" reads like 积分怎么用 and like 积分会过期吗; only one answer is about 抵扣).

Text is embedded in Simplified characters, as customers' messages are searched
(bot/knowledge/normalize.py), so a shop may write its FAQ in either script; Chroma keeps the
text as written.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np

from bot.config import Settings
from bot.errors import ConfigError
from bot.knowledge.embeddings import E5Embeddings, SentenceTransformerEmbeddings
from bot.knowledge.entries import Entry
from bot.knowledge.normalize import to_simplified
from bot.knowledge.units import FORM_KEY, PASSAGE_FORM, UNITS_KEY, answer_units, pack, unpack

logger = logging.getLogger(__name__)

Embedder = E5Embeddings | SentenceTransformerEmbeddings
BATCH = 64
LEARNED = -1  # the `phrasing` of a learned vector: never one of the entry's own, never surplus


@dataclass(frozen=True)
class StoredVector:
    vector_id: str
    entry_id: str
    text: str
    metadata: dict[str, object]


class Settled(NamedTuple):
    """What `VectorStore.settle` found: written vectors search passed by, and those it could not fix."""

    found: list[str]
    lost: list[str]


class StoredEntry(NamedTuple):
    """What the store says about one committed entry (from its question vector)."""

    hash: str
    source: str
    vectors: int | None  # how many phrasing vectors it was written with (None: an older store)


def collection_name(embedder: Embedder) -> str:
    # Vectors from different models must never be compared, so each model gets its own collection.
    digest = hashlib.sha1(embedder.name.encode()).hexdigest()[:10]
    return f"faq_{digest}"


def entry_passage(entry: Entry) -> str:
    return to_simplified(f"{entry.question}\n{entry.answer}" if entry.kind == "faq" else entry.answer)


def make_chroma_client(settings: Settings, *, afresh: bool = False):  # type: ignore[no-untyped-def]
    """A client of the configured store. `afresh`: a local store read again from its files, not
    the system this process already holds for it (see VectorStore.reopen)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ConfigError(f"DIANXIAOER_CHROMA_URL 不是有效地址：{settings.chroma_url!r}")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    path = settings.data_dir / "chroma"
    if not (path / "chroma.sqlite3").exists():
        _forget_cached_store(str(path))
    elif afresh:
        # Not stopped: a search in another thread may still be reading through it. It is
        # garbage once the last store holding it lets go.
        _forget_cached_store(str(path), stop=False)
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _forget_cached_store(path: str, *, stop: bool = True) -> None:
    """Drop the Chroma system this process cached for `path`, whose files are gone.

    Chroma keeps one system per directory for the life of the process. Reused after the directory
    was wiped (a new data dir, an operator starting over), its connections still point at the
    deleted database, and each new pooled connection opens an empty file: "no such table:
    collections", depending on timing. A fresh system creates the store anew.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    # Private to Chroma (1.5): if a release renames them there is nothing cached to drop here.
    system = getattr(SharedSystemClient, "_identifier_to_system", {}).pop(path, None)
    getattr(SharedSystemClient, "_identifier_to_refcount", {}).pop(path, None)
    if system is not None and stop:
        system.stop()


class VectorStore:
    """The Chroma collection for one embedding model, through LangChain's Chroma wrapper."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.embedder = embedder
        self.settings = settings
        self.after_write: Callable[[], None] = lambda: None  # called after each batch written
        self._chroma, self._passages = self._open(make_chroma_client(settings))
        self._written: set[str] = set()  # phrasing vectors written since the last settle()

    def _open(self, client):  # type: ignore[no-untyped-def]
        from langchain_chroma import Chroma

        return tuple(
            Chroma(
                client=client,
                collection_name=name,
                embedding_function=self.embedder,
                collection_metadata={"hnsw:space": "cosine"},
            )
            for name in (collection_name(self.embedder), collection_name(self.embedder) + "_answers")
        )

    def reopen(self) -> None:
        """Read a local store again from its files (a Chroma server keeps its own graph)."""
        if self.settings.chroma_url:
            return
        self._chroma, self._passages = self._open(make_chroma_client(self.settings, afresh=True))

    def settle(self, *, everything: bool = False) -> Settled:
        """Make sure every phrasing vector written since the last call (or, with `everything`,
        every one stored: after a sync that died part-way) can be found by search.

        Chroma's HNSW graph, updated in place by upserts and deletes, now and then leaves a newly
        written vector with no way in: every query passes it by, while get() lists it (2–5 syncs
        in 300 of the same edit: benchmarks/chroma_reach.py). Each written vector is looked up
        with its own embedding, about 0.2 ms apiece. One left out is put right by reading the
        store again from its files, and failing that by rebuilding the graph from the records.
        Returns the ids found out of reach and those still out of reach (BM25 still finds their text).

        With `everything`, the graph checked is the one read again from the files: the one the
        next process will load (the saved graph with the write log replayed into it), which after
        a sync that died is not the graph this process built (a resumed sync's new process once
        passed by a vector this process's graph found).
        """
        written, self._written = sorted(self._written), set()
        if everything:
            self.reopen()
        found = lost = self.unreachable(None if everything else written)
        for fix in (self.reopen, self.rebuild_phrasings):
            if not lost:
                break
            logger.warning("%d newly written vector(s) unreachable by search (%s); %s",
                           len(lost), ", ".join(lost[:5]), fix.__name__)
            fix()
            lost = self.unreachable(lost)
        if lost:
            logger.error("vectors still unreachable by search after a rebuild: %s", ", ".join(lost[:20]))
        return Settled(found, lost)

    def unreachable(self, vector_ids: Sequence[str] | None = None) -> list[str]:
        """Phrasing vectors (all, or those given) that a query with their own embedding misses."""
        collection = self._chroma._collection
        ids = list(vector_ids) if vector_ids is not None else collection.get(include=[])["ids"]
        if not ids:  # a sync that wrote nothing asks nothing
            return []
        k = min(10, collection.count())
        lost: list[str] = []
        for chunk in _chunks(ids, 500):
            got = collection.get(ids=chunk, include=["embeddings"])
            if not got["ids"]:
                continue
            found = collection.query(query_embeddings=got["embeddings"], n_results=k, include=["distances"])
            for vid, hits, distances in zip(got["ids"], found["ids"], found["distances"]):
                # Ten identical vectors (one text in ten entries) can crowd out its own: still found.
                if vid not in hits and not (len(hits) == k and max(distances) < 1e-6):
                    lost.append(vid)
        return lost

    def count(self) -> int:
        return self._chroma._collection.count()

    def passage_count(self) -> int:
        return self._passages._collection.count()

    def stored_entries(self) -> dict[str, StoredEntry]:
        """Every committed entry (one whose question vector is stored), by entry id."""
        got = self._chroma.get(where={"phrasing": 0}, include=["metadatas"])
        return {
            str(m["entry_id"]): StoredEntry(str(m["hash"]), str(m["source"]), _int_or_none(m.get("phrasings")))
            for m in got["metadatas"]
            if m
        }

    def upsert(self, entries: Sequence[Entry], progress: Callable[[int], None] | None = None) -> None:
        """Embed and store entries, replacing any older vectors of the same entries.

        `progress` is called with the number of vectors written after each batch.
        """
        items = list(entries)
        for start in range(0, len(items), BATCH):
            group = items[start : start + BATCH]
            self.upsert_passages(group, progress)
            self._write_phrasings([p for e in group for p in _phrasings(e) if p[0] != f"{e.id}:0"], progress)
            self._delete_surplus(group)
            # Last: the question vectors carry the hashes that say "this entry is written".
            self._write_phrasings([_phrasings(e)[0] for e in group], progress)

    def _write_phrasings(
        self, pending: list[tuple[str, str, dict[str, object], bool]], progress: Callable[[int], None] | None
    ) -> None:
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            questions = [i for i, item in enumerate(batch) if not item[3]]
            passages = [i for i, item in enumerate(batch) if item[3]]
            vectors: list[list[float]] = [[] for _ in batch]
            texts = [to_simplified(item[1]) for item in batch]
            if questions:
                for i, v in zip(questions, self.embedder.encode_queries([texts[i] for i in questions])):
                    vectors[i] = v.tolist()
            if passages:
                for i, v in zip(passages, self.embedder.encode_passages([texts[i] for i in passages])):
                    vectors[i] = v.tolist()
            self._written.update(item[0] for item in batch)
            self._chroma._collection.upsert(
                ids=[item[0] for item in batch],
                embeddings=vectors,
                documents=[item[1] for item in batch],
                metadatas=[item[2] for item in batch],  # type: ignore[misc]
            )
            self.after_write()
            if progress:
                progress(len(batch))

    def upsert_passages(self, entries: Sequence[Entry], progress: Callable[[int], None] | None = None) -> None:
        """Embed and store each entry's question-and-answer passage (one vector per entry), with
        its answer's sentences embedded one by one in the same record (bot/knowledge/units.py)."""
        items = list(entries)
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            vectors = self.embedder.encode_passages([entry_passage(e) for e in batch])
            units = [answer_units(to_simplified(e.answer)) for e in batch]
            flat = [u for us in units for u in us]
            unit_vectors = self.embedder.encode_passages(flat) if flat else np.zeros((0, 0))
            metadatas, at = [], 0
            for entry, own in zip(batch, units):
                metadatas.append({"hash": entry.content_hash, FORM_KEY: PASSAGE_FORM,
                                  UNITS_KEY: pack(unit_vectors[at : at + len(own)]) if own else ""})
                at += len(own)
            self._passages._collection.upsert(
                ids=[e.id for e in batch],
                embeddings=[v.tolist() for v in vectors],
                metadatas=metadatas,  # type: ignore[arg-type]
            )
            self.after_write()
            if progress:
                progress(len(batch))

    def stored_passages(self) -> dict[str, str]:
        """Entry id → content hash of every stored passage record ("" for one of an older form)."""
        got = self._passages.get(include=["metadatas"])
        return {str(vid): passage_hash(m) for vid, m in zip(got["ids"], got["metadatas"]) if m}

    def passage_vectors(self) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
        """Every entry's passage vector (ids, unit-length rows), and its answer's sentence vectors
        by entry id, for re-ranking and the gate in memory."""
        ids: list[str] = []
        rows: list[np.ndarray] = []
        units: dict[str, np.ndarray] = {}
        # A chunk at a time: all 10,000 records' sentence vectors as text at once would leave the
        # process some 100 MB larger for good (what the allocator keeps of the peak; 250 at a
        # time: +43 MB over the passages alone at 10,000 entries, of which 24 MB are the vectors).
        for chunk in _chunks(list(self._passages.get(include=[])["ids"]), 250):
            got = self._passages.get(ids=chunk, include=["embeddings", "metadatas"])
            if not got["ids"]:
                continue
            vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
            for vid, meta in zip(got["ids"], got["metadatas"]):
                found = unpack(str((meta or {}).get(UNITS_KEY) or ""), vectors.shape[1])
                if len(found):
                    units[str(vid)] = found
            ids += got["ids"]
            rows.append(vectors)
        if not ids:  # nothing synced yet
            return [], np.zeros((0, 0), dtype=np.float32), {}
        vectors = np.vstack(rows)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return ids, vectors / np.where(norms == 0, 1, norms), units

    def _delete_surplus(self, entries: Sequence[Entry]) -> None:
        keep = {e.id: len(_phrasings(e)) for e in entries}
        for chunk in _chunks(list(keep), 500):
            got = self._chroma.get(where={"entry_id": {"$in": chunk}}, include=["metadatas"])
            stale = [vid for vid, m in zip(got["ids"], got["metadatas"]) if int(m["phrasing"]) >= keep[str(m["entry_id"])]]
            if stale:
                self._chroma.delete(ids=stale)
                self.after_write()

    def delete(self, entry_ids: Iterable[str]) -> None:
        """Delete entries: question vectors first, so a crash part-way leaves no committed entry
        with vectors missing, only uncommitted leftovers that the next check removes."""
        for chunk in _chunks(list(entry_ids), 500):
            self._chroma._collection.delete(where={"$and": [{"entry_id": {"$in": chunk}}, {"phrasing": 0}]})
            self._chroma._collection.delete(where={"entry_id": {"$in": chunk}})
            self._passages._collection.delete(ids=chunk)
            self.after_write()

    def delete_vectors(self, vector_ids: Sequence[str], passage_ids: Sequence[str] = ()) -> None:
        for chunk in _chunks(list(vector_ids), 500):
            self._chroma._collection.delete(ids=chunk)
            self.after_write()
        for chunk in _chunks(list(passage_ids), 500):
            self._passages._collection.delete(ids=chunk)
            self.after_write()

    def upsert_learned(self, items: Sequence[tuple[str, str, str]]) -> None:
        """Embed and store learned phrasings, each (vector id, entry id, text), as questions are."""
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            vectors = self.embedder.encode_queries([to_simplified(text) for _, _, text in batch])
            self._written.update(vid for vid, _, _ in batch)
            self._chroma._collection.upsert(
                ids=[vid for vid, _, _ in batch],
                embeddings=[v.tolist() for v in vectors],
                documents=[text for _, _, text in batch],
                metadatas=[{"entry_id": entry_id, "phrasing": LEARNED, "learned": 1} for _, entry_id, _ in batch],
            )
            self.after_write()

    def learned_count(self) -> int:
        return len(self._chroma.get(where={"phrasing": LEARNED}, include=[])["ids"])

    def learned_vectors(self) -> dict[str, str]:
        """Vector id → text of every learned phrasing stored."""
        got = self._chroma.get(where={"phrasing": LEARNED}, include=["documents"])
        return dict(zip(got["ids"], got["documents"]))

    def vector_metadata(self) -> tuple[list[str], list[dict[str, object]], list[str], list[str]]:
        """Ids and metadata of every phrasing vector, and ids and hashes of every passage vector."""
        got = self._chroma.get(include=["metadatas"])
        passages = self._passages.get(include=["metadatas"])
        return (
            list(got["ids"]),
            [dict(m or {}) for m in got["metadatas"]],
            list(passages["ids"]),
            [passage_hash(m or {}) for m in passages["metadatas"]],
        )

    def without_embeddings(self, passages: bool = False) -> list[str]:
        """Ids whose embedding Chroma cannot return (two writers at once can leave such records)."""
        collection = (self._passages if passages else self._chroma)._collection
        missing: list[str] = []

        def probe(ids: list[str]) -> None:
            try:
                got = collection.get(ids=ids, include=["embeddings"])
            except Exception:  # chromadb raises InternalError("Error getting embedding") for the batch
                if len(ids) == 1:
                    missing.extend(ids)
                    return
                probe(ids[: len(ids) // 2])
                probe(ids[len(ids) // 2 :])
                return
            for vid, vector in zip(got["ids"], got["embeddings"]):
                if vector is None or len(vector) == 0:
                    missing.append(vid)

        for chunk in _chunks(list(collection.get(include=[])["ids"]), 500):
            probe(chunk)
        return missing

    def rebuild_collections(self, drop_vectors: set[str], drop_passages: set[str]) -> None:
        """Recreate a collection from its healthy records, leaving out the ids given.

        A record without an embedding cannot even be deleted (Chroma fails compacting its log),
        so the healthy records, embeddings included, are copied into a new collection, which then
        takes the old one's name. A crash while copying leaves the old collection as it was; only
        between dropping it and renaming the copy would a crash lose entries, and those the next
        sync adds again from the files.
        """
        for store, drop in ((self._chroma, drop_vectors), (self._passages, drop_passages)):
            if drop:
                self._rebuild(store, drop)

    def rebuild_phrasings(self) -> None:
        """Rebuild the phrasing collection's search graph from its records (see settle)."""
        self._rebuild(self._chroma, set())

    def _rebuild(self, store, drop: set[str]) -> None:  # type: ignore[no-untyped-def]
        client = store._client
        collection = store._collection
        name, metadata = collection.name, collection.metadata
        spare = f"{name}_rebuild"
        if spare in {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}:
            client.delete_collection(spare)  # the leftover of a repair that died while copying
        fresh = client.create_collection(spare, metadata=metadata)
        healthy = [vid for vid in collection.get(include=[])["ids"] if vid not in drop]
        for chunk in _chunks(healthy, BATCH * 8):
            got = collection.get(ids=chunk, include=["embeddings", "documents", "metadatas"])
            records = {
                "ids": got["ids"],
                "embeddings": [list(map(float, v)) for v in got["embeddings"]],
                "metadatas": got["metadatas"],
            }
            if any(doc is not None for doc in got["documents"]):  # the passages have none
                records["documents"] = got["documents"]
            fresh.add(**records)
            self.after_write()
        # Searches (other threads of a serving bot) move to the copy before the old one goes:
        # Chroma addresses a collection by id, so the copy keeps working through its renaming.
        store._chroma_collection = fresh  # what langchain's Chroma._collection returns
        client.delete_collection(name)
        fresh.modify(name=name)

    def all_vectors(self) -> list[StoredVector]:
        got = self._chroma.get(include=["metadatas", "documents"])
        return [
            StoredVector(vid, str(m["entry_id"]), doc, dict(m))
            for vid, doc, m in zip(got["ids"], got["documents"], got["metadatas"])
        ]

    def embeddings(self, vector_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each of these phrasing vectors that is there."""
        found: dict[str, np.ndarray] = {}
        for chunk in _chunks(list(vector_ids), 500):
            got = self._chroma._collection.get(ids=chunk, include=["embeddings"])
            for vid, vector in zip(got["ids"], got["embeddings"]):
                if vector is not None and len(vector):
                    found[vid] = np.asarray(vector, dtype=np.float32)
        return found

    def nearest(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        """The n nearest phrasings as (vector id, cosine similarity), best first.

        Only ids and distances: fetching the stored text and metadata costs more than the
        nearest-neighbour search itself, and the lexical index already holds both.
        """
        got = self._chroma._collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(vid, 1.0 - float(dist)) for vid, dist in zip(got["ids"][0], got["distances"][0])]


def _phrasings(entry: Entry) -> list[tuple[str, str, dict[str, object], bool]]:
    """(vector id, text, metadata, embedded as a passage?) of each of an entry's phrasing vectors."""
    texts = entry.phrasings if entry.kind == "faq" else (entry.answer,)
    return [(f"{entry.id}:{n}", text, _metadata(entry, n, len(texts)), entry.kind == "passage") for n, text in enumerate(texts)]


def passage_hash(metadata: Mapping[str, object]) -> str:
    """The content hash a passage record vouches for: none for one of an older form (without its
    answer's sentences), which a sync writes again."""
    return str(metadata.get("hash", "")) if metadata.get(FORM_KEY) == PASSAGE_FORM else ""


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _metadata(entry: Entry, phrasing: int, phrasings: int) -> dict[str, object]:
    return {
        "entry_id": entry.id,
        "phrasing": phrasing,
        "phrasings": phrasings,
        "hash": entry.content_hash,
        "question": entry.question,
        "answer": entry.answer,
        "source": entry.source,
        "line": entry.line,
        "category": entry.category,
        "tags": "|".join(entry.tags),
        "kind": entry.kind,
    }


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
