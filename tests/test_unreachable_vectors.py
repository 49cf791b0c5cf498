"""A vector Chroma stored but its search graph passes by is found and put right.

Chroma's HNSW graph, updated in place, now and then leaves a newly written vector out of every
query while get() lists it (benchmarks/chroma_reach.py measures how often). That is random, so
here Chroma's query is made to pass one vector by, the way the real fault does, on the
collection object that was open when it was written.
"""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.doctor import diagnose, repair
from bot.knowledge.store import VectorStore


def shop(tmp_path, e5, chroma_url) -> KnowledgeBase:
    kdir = tmp_path / "knowledge"
    kdir.mkdir()
    (kdir / "faq.csv").write_text(
        "问题,答案,相似问题\n包邮吗？,满 99 元包邮。,运费多少\n能开发票吗？,可以开电子发票。,怎么开票\n"
        "可以退货吗？,七天无理由退货。,\n",
        encoding="utf-8",
    )
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kdir, chroma_url=chroma_url, _env_file=None)
    return KnowledgeBase(settings, embedder=e5)


@pytest.fixture
def kb(tmp_path, e5, chroma_url):
    # chroma_url: embedded Chroma, then an empty Chroma server (whose graph is rebuilt, not re-read).
    return shop(tmp_path, e5, chroma_url)


@pytest.fixture
def embedded_kb(tmp_path, e5):
    # Only an embedded store has a graph in this process that other stores here share.
    return shop(tmp_path, e5, None)


def pass_by(collection, hidden: set[str]) -> None:
    """Make this collection object's queries leave `hidden` out, as a broken graph does."""
    real = collection.query

    def query(**kwargs):
        got = real(**kwargs)
        for row, ids in enumerate(got["ids"]):
            keep = [i for i, vid in enumerate(ids) if vid not in hidden]
            for key in ("ids", "distances"):
                if got.get(key) is not None:
                    got[key][row] = [got[key][row][i] for i in keep]
        return got

    collection.query = query


def vector_id(kb: KnowledgeBase, text: str) -> str:
    return next(v.vector_id for v in kb.store.all_vectors() if v.text == text)


def add_entry(kb: KnowledgeBase) -> None:
    with open(kb.settings.knowledge_dir / "faq.csv", "a", encoding="utf-8") as out:
        out.write("可以试吃吗？,门店每天下午有试吃。,有小样吗\n")


def test_a_written_vector_search_passes_by_is_found_by_the_sync_and_read_again(kb, monkeypatch):
    kb.sync()
    add_entry(kb)
    real_upsert = VectorStore._write_phrasings

    def write_then_break(self, pending, progress):
        real_upsert(self, pending, progress)
        pass_by(self._chroma._collection, {vid for vid, text, _, _ in pending if text == "有小样吗"})

    monkeypatch.setattr(VectorStore, "_write_phrasings", write_then_break)
    report = kb.sync()
    assert not kb.store._written  # settled: the sync looked up what it wrote
    assert any("检索不到" in line for line in report.problems) and report.repaired and not report.unrepaired
    hidden = vector_id(kb, "有小样吗")
    vector = kb.embedder.embed_query("有小样吗")
    assert hidden in [vid for vid, _ in kb.store.nearest(vector, 5)]
    assert kb.store.unreachable() == []


def test_when_reading_again_does_not_help_the_graph_is_rebuilt(kb, monkeypatch):
    kb.sync()
    monkeypatch.setattr(VectorStore, "reopen", lambda self: None)
    hidden = vector_id(kb, "怎么开票")
    pass_by(kb.store._chroma._collection, {hidden})
    kb.store._written.add(hidden)
    before = {v.vector_id: v.text for v in kb.store.all_vectors()}
    settled = kb.store.settle()
    assert settled.found == [hidden] and settled.lost == []
    assert {v.vector_id: v.text for v in kb.store.all_vectors()} == before
    assert hidden in [vid for vid, _ in kb.store.nearest(kb.embedder.embed_query("怎么开票"), 3)]


def test_check_reports_a_vector_search_cannot_find_and_repair_rebuilds(kb):
    kb.sync()
    hidden = vector_id(kb, "运费多少")
    pass_by(kb.store._chroma._collection, {hidden})
    found = diagnose(kb.store, {}, embeddings=True)
    assert found.unreachable == [hidden]
    assert any("检索图里找不到" in p and hidden in p for p in found.problems)
    done, unfixable = repair(kb.store, found, {})
    assert any("重建了问法向量的检索图" in line for line in done) and not unfixable
    assert kb.store.unreachable() == []


def test_a_learned_phrasing_search_passes_by_is_settled(kb, monkeypatch):
    kb.sync()
    entry = next(v.entry_id for v in kb.store.all_vectors() if v.text == "可以退货吗？")
    real = VectorStore.upsert_learned

    def learn_then_break(self, items):
        real(self, items)
        pass_by(self._chroma._collection, {vid for vid, _, _ in items})

    monkeypatch.setattr(VectorStore, "upsert_learned", learn_then_break)
    kb.add_learned({f"{entry}:L1": (entry, "买错了能换吗")})
    assert f"{entry}:L1" in [vid for vid, _ in kb.store.nearest(kb.embedder.embed_query("买错了能换吗"), 3)]


def test_searches_keep_working_while_the_graph_is_rebuilt(kb):
    kb.sync()
    store = kb.store
    vector = kb.embedder.embed_query("怎么开票")
    client = store._chroma._client
    real_delete = client.delete_collection
    seen: list[list[str]] = []

    def delete_then_search(name, *args, **kwargs):
        real_delete(name, *args, **kwargs)
        seen.append([vid for vid, _ in store.nearest(vector, 3)])  # a search from another thread, now

    client.delete_collection = delete_then_search
    try:
        store.rebuild_phrasings()
    finally:
        client.delete_collection = real_delete
    assert seen and seen[0][0] == vector_id(kb, "怎么开票")
    assert [vid for vid, _ in store.nearest(vector, 3)] == seen[0]


def died_after_writing(kb: KnowledgeBase, monkeypatch) -> KnowledgeBase:
    """The sample FAQ synced, an entry added, and a sync of it killed after its vectors were
    written (they are committed; the sync is not finished)."""
    from bot.knowledge import faults

    class Killed(Exception):
        pass

    kb.sync()
    add_entry(kb)
    monkeypatch.setattr(faults, "_die", lambda where: (_ for _ in ()).throw(Killed(where)))
    dying = KnowledgeBase(kb.settings.model_copy(update={"fault_at_phase": "deleted"}), embedder=kb.embedder)
    with pytest.raises(Killed):
        dying.sync()
    return dying


def graphs_pass_by(monkeypatch, hidden: str, broken) -> None:
    """Every collection object for which `broken(collection)` holds leaves `hidden` out of its
    queries, as a graph with no way in to it does."""
    from chromadb.api.models.Collection import Collection

    real = Collection.query

    def query(self, **kwargs):
        got = real(self, **kwargs)
        if broken(self):
            for row, ids in enumerate(got["ids"]):
                keep = [i for i, vid in enumerate(ids) if vid != hidden]
                for key in ("ids", "distances"):
                    if got.get(key) is not None:
                        got[key][row] = [got[key][row][i] for i in keep]
        return got

    monkeypatch.setattr(Collection, "query", query)


def test_a_sync_after_one_that_died_looks_up_every_vector(embedded_kb, monkeypatch):
    """A sync killed after writing leaves its vectors committed, so the next one writes them
    not again; a vector the dead sync's graph passes by must still be found afterwards."""
    dying = died_after_writing(embedded_kb, monkeypatch)
    hidden = vector_id(dying, "有小样吗")
    here = dying.store._chroma._collection._client  # this process's Chroma, which every store here shares
    graphs_pass_by(monkeypatch, hidden, lambda collection: collection._client is here)
    resumed = KnowledgeBase(embedded_kb.settings, embedder=embedded_kb.embedder)
    report = resumed.sync()
    assert not report.added and not report.updated  # the dead sync had committed the entry
    assert hidden in [vid for vid, _ in resumed.store.nearest(resumed.embedder.embed_query("有小样吗"), 5)]


def test_after_a_sync_that_died_the_graph_a_new_process_loads_is_checked(embedded_kb, monkeypatch):
    """The graph read again from the files (the next process's) may pass by a vector that this
    process's own graph finds: the resumed sync checks that one, and rebuilds it."""
    dying = died_after_writing(embedded_kb, monkeypatch)
    hidden = vector_id(dying, "有小样吗")
    here = dying.store._chroma._collection._client  # this process's Chroma, which every store here shares
    saved = dying.store._chroma._collection.id  # the collection as saved (a rebuild makes another)
    graphs_pass_by(monkeypatch, hidden, lambda collection: collection._client is not here and collection.id == saved)
    resumed = KnowledgeBase(embedded_kb.settings, embedder=embedded_kb.embedder)
    report = resumed.sync()
    assert report.repaired and not report.unrepaired
    resumed.store.reopen()  # as the next process reads it
    assert hidden in [vid for vid, _ in resumed.store.nearest(resumed.embedder.embed_query("有小样吗"), 5)]
