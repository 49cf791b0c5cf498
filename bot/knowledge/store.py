"""FAQ vectors in Chroma, one vector per phrasing of an entry, plus one for what it says.

Vector ids are `<entry id>:<n>`, n = 0 for the question and 1.. for its similar questions, so
an entry's vectors can be replaced by upserting the new ones and deleting the surplus: a
crash between the two leaves every entry searchable, either as it was or as it is now.
Metadata carries everything a hit needs, so search never goes back to the files.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

from bot.config import Settings
from bot.errors import ConfigError
from bot.knowledge.embeddings import E5Embeddings, SentenceTransformerEmbeddings
from bot.knowledge.entries import Entry
from bot.knowledge.normalize import to_simplified

logger = logging.getLogger(__name__)

Embedder = E5Embeddings | SentenceTransformerEmbeddings
BATCH = 64


@dataclass(frozen=True)
class StoredVector:
    vector_id: str
    entry_id: str
    text: str
    metadata: dict[str, object]


def collection_name(embedder: Embedder) -> str:
    # Vectors from different models must never be compared, so each model gets its own collection.
    digest = hashlib.sha1(embedder.name.encode()).hexdigest()[:10]
    return f"faq_{digest}"


def entry_passage(entry: Entry) -> str:
    return to_simplified(f"{entry.question}\n{entry.answer}" if entry.kind == "faq" else entry.answer)


def make_chroma_client(settings: Settings):  # type: ignore[no-untyped-def]
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
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class VectorStore:
    """The Chroma collection for one embedding model, through LangChain's Chroma wrapper."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        from langchain_chroma import Chroma

        self.embedder = embedder
        self._chroma = Chroma(
            client=make_chroma_client(settings),
            collection_name=collection_name(embedder),
            embedding_function=embedder,
            collection_metadata={"hnsw:space": "cosine"},
        )
        self._passages = Chroma(
            client=self._chroma._client,
            collection_name=collection_name(embedder) + "_answers",
            embedding_function=embedder,
            collection_metadata={"hnsw:space": "cosine"},
        )

    def count(self) -> int:
        return self._chroma._collection.count()

    def stored_entries(self) -> dict[str, tuple[str, str]]:
        """Entry id → (content hash, source file) of every stored entry, from its question vector."""
        got = self._chroma.get(where={"phrasing": 0}, include=["metadatas"])
        return {str(m["entry_id"]): (str(m["hash"]), str(m["source"])) for m in got["metadatas"] if m}

    def upsert(self, entries: Sequence[Entry], progress: Callable[[int], None] | None = None) -> None:
        """Embed and store entries, replacing any older vectors of the same entries.

        `progress` is called with the number of vectors written after each batch.
        """
        pending: list[tuple[str, str, dict[str, object], bool]] = []
        for entry in entries:
            for n, text in enumerate(entry.phrasings if entry.kind == "faq" else (entry.answer,)):
                pending.append((f"{entry.id}:{n}", text, _metadata(entry, n), entry.kind == "passage"))
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
            self._chroma._collection.upsert(
                ids=[item[0] for item in batch],
                embeddings=vectors,
                documents=[item[1] for item in batch],
                metadatas=[item[2] for item in batch],  # type: ignore[misc]
            )
            if progress:
                progress(len(batch))
        self._delete_surplus(entries)
        self.upsert_passages(entries, progress)

    def upsert_passages(self, entries: Sequence[Entry], progress: Callable[[int], None] | None = None) -> None:
        """Embed and store each entry's question-and-answer passage (one vector per entry)."""
        items = list(entries)
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            vectors = self.embedder.encode_passages([entry_passage(e) for e in batch])
            self._passages._collection.upsert(
                ids=[e.id for e in batch],
                embeddings=[v.tolist() for v in vectors],
                metadatas=[{"hash": e.content_hash} for e in batch],
            )
            if progress:
                progress(len(batch))

    def stored_passages(self) -> dict[str, str]:
        """Entry id → content hash of every stored passage vector."""
        got = self._passages.get(include=["metadatas"])
        return {str(vid): str(m["hash"]) for vid, m in zip(got["ids"], got["metadatas"]) if m}

    def passage_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every entry's passage vector (ids, unit-length rows), for re-ranking in memory."""
        got = self._passages.get(include=["embeddings"])
        if not got["ids"]:  # nothing synced yet
            return [], np.zeros((0, 0), dtype=np.float32)
        vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return list(got["ids"]), vectors / np.where(norms == 0, 1, norms)

    def _delete_surplus(self, entries: Sequence[Entry]) -> None:
        keep = {e.id: len(e.phrasings) if e.kind == "faq" else 1 for e in entries}
        for chunk in _chunks(list(keep), 500):
            got = self._chroma.get(where={"entry_id": {"$in": chunk}}, include=["metadatas"])
            stale = [vid for vid, m in zip(got["ids"], got["metadatas"]) if int(m["phrasing"]) >= keep[str(m["entry_id"])]]
            if stale:
                self._chroma.delete(ids=stale)

    def delete(self, entry_ids: Iterable[str]) -> None:
        for chunk in _chunks(list(entry_ids), 500):
            self._chroma._collection.delete(where={"entry_id": {"$in": chunk}})
            self._passages._collection.delete(ids=chunk)

    def all_vectors(self) -> list[StoredVector]:
        got = self._chroma.get(include=["metadatas", "documents"])
        return [
            StoredVector(vid, str(m["entry_id"]), doc, dict(m))
            for vid, doc, m in zip(got["ids"], got["documents"], got["metadatas"])
        ]

    def nearest(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        """The n nearest phrasings as (vector id, cosine similarity), best first.

        Only ids and distances: fetching the stored text and metadata costs more than the
        nearest-neighbour search itself, and the lexical index already holds both.
        """
        got = self._chroma._collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(vid, 1.0 - float(dist)) for vid, dist in zip(got["ids"][0], got["distances"][0])]


def _metadata(entry: Entry, phrasing: int) -> dict[str, object]:
    return {
        "entry_id": entry.id,
        "phrasing": phrasing,
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
