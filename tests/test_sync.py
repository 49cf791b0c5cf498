"""Incremental sync: exactly the changed entries change; bad files and crashes lose nothing."""

import os
import threading

import numpy as np
import pytest

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase


@pytest.fixture(scope="module")
def embedder(e5):
    return e5


@pytest.fixture
def kdir(tmp_path):
    path = tmp_path / "knowledge"
    path.mkdir()
    (path / "faq.csv").write_text(
        "问题,答案,相似问题\n包邮吗？,满 99 元包邮。,运费多少\n几天能到？,一般 2–4 天。,多久到\n能开发票吗？,可以开电子发票。,\n",
        encoding="utf-8",
    )
    (path / "tea.md").write_text("# 茶\n## 龙井保质期多久？\n冷藏 18 个月。\n", encoding="utf-8")
    return path


@pytest.fixture
def make_kb(tmp_path, kdir, embedder, chroma_url):
    # chroma_url: embedded Chroma, then an empty Chroma server (tests/conftest.py).
    def make() -> KnowledgeBase:
        return KnowledgeBase(
            Settings(data_dir=tmp_path / "data", knowledge_dir=kdir, chroma_url=chroma_url), embedder=embedder
        )

    return make


def stored(kb: KnowledgeBase) -> dict[str, str]:
    return {entry_id: stored.hash for entry_id, stored in kb.store.stored_entries().items()}


def test_first_sync_adds_everything_then_nothing_changes(make_kb):
    kb = make_kb()
    report = kb.sync()
    assert (len(report.added), len(report.updated), len(report.removed), report.unchanged) == (4, 0, 0, 0)
    # 4 questions + 2 similar questions, one vector each
    assert kb.store.count() == 6
    again = make_kb().sync()
    assert (len(again.added), len(again.updated), len(again.removed), again.unchanged) == (0, 0, 0, 4)


def test_add_edit_delete_change_exactly_those_entries(make_kb, kdir):
    kb = make_kb()
    kb.sync()
    before = stored(kb)
    (kdir / "faq.csv").write_text(
        "问题,答案,相似问题\n包邮吗？,满 199 元包邮。,运费多少|邮费怎么算\n能开发票吗？,可以开电子发票。,\n",
        encoding="utf-8",
    )
    (kdir / "new.jsonl").write_text('{"question": "有门店吗？", "answer": "杭州龙井路 18 号。"}\n', encoding="utf-8")
    report = kb.sync()
    assert [e.question for e in report.updated] == ["包邮吗？"]
    assert [e.question for e in report.added] == ["有门店吗？"]
    assert len(report.removed) == 1 and report.removed[0] in before
    assert report.unchanged == 2
    after = stored(kb)
    assert set(after) == (set(before) - set(report.removed)) | {report.added[0].id}
    unchanged_ids = set(before) - set(report.removed) - {report.updated[0].id}
    assert {i: after[i] for i in unchanged_ids} == {i: before[i] for i in unchanged_ids}
    # the edited entry's new similar question is searchable, the deleted entry is not
    hits = kb.search("邮费怎么算", top_k=1)
    assert hits[0].question == "包邮吗？" and "199" in hits[0].answer
    assert all(h.question != "几天能到？" for h in kb.search("几天能到", top_k=5))


def test_removing_a_similar_question_removes_its_vector(make_kb, kdir):
    kb = make_kb()
    kb.sync()
    (kdir / "faq.csv").write_text(
        "问题,答案\n包邮吗？,满 99 元包邮。\n几天能到？,一般 2–4 天。\n能开发票吗？,可以开电子发票。\n", encoding="utf-8"
    )
    kb.sync()
    assert kb.store.count() == 4
    assert len(kb.lexical.docs) == 4


def test_dry_run_writes_nothing(make_kb, kdir):
    kb = make_kb()
    report = kb.sync(dry_run=True)
    assert len(report.added) == 4 and report.dry_run
    assert kb.store.count() == 0


def test_bad_file_is_reported_and_its_stored_entries_are_kept(make_kb, kdir):
    kb = make_kb()
    kb.sync()
    (kdir / "tea.md").write_bytes(b"\x00\x01binary garbage")
    report = kb.sync()
    assert [(e.path, "二进制" in e.reason) for e in report.errors] == [("tea.md", True)]
    assert report.removed == [] and report.kept_despite_errors == 1
    assert kb.search("龙井能放多久", top_k=1)[0].question == "龙井保质期多久？"


def test_a_bad_row_does_not_stop_the_rest_of_the_file(make_kb, kdir):
    (kdir / "faq.csv").write_text("问题,答案\n包邮吗？,满 99 元包邮。\n坏行,答案,多出的列\n", encoding="utf-8")
    report = make_kb().sync()
    assert [(e.path, e.line) for e in report.errors] == [("faq.csv", 3)]
    assert {e.question for e in report.added} == {"包邮吗？", "龙井保质期多久？"}


def test_same_question_with_different_answers_warns_naming_both_places(make_kb, kdir):
    (kdir / "more.csv").write_text("问题,答案\n包邮吗?,满 199 元包邮。\n", encoding="utf-8")
    report = make_kb().sync()
    [warning] = report.warnings
    assert "faq.csv:2" in warning and "more.csv:2" in warning


def test_a_sync_that_dies_half_way_leaves_the_previous_index_usable(make_kb, kdir, monkeypatch):
    kb = make_kb()
    kb.sync()
    (kdir / "faq.csv").write_text(
        "问题,答案\n包邮吗？,满 199 元包邮。\n几天能到？,一般 3 天。\n能开发票吗？,可以开纸质发票。\n", encoding="utf-8"
    )
    from bot.knowledge import store as store_module

    monkeypatch.setattr(store_module, "BATCH", 1)
    real_upsert = kb.store._chroma._collection.upsert
    calls = {"n": 0}

    def dying_upsert(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("power cut")
        return real_upsert(**kwargs)

    monkeypatch.setattr(kb.store._chroma._collection, "upsert", dying_upsert)
    with pytest.raises(KeyboardInterrupt):
        kb.sync()
    monkeypatch.undo()

    survivor = make_kb()
    hits = survivor.search("龙井保质期", top_k=1)
    assert hits and hits[0].question == "龙井保质期多久？"
    assert survivor.search("运费多少", top_k=1)[0].question == "包邮吗？"
    report = survivor.sync()
    assert len(report.updated) == 2 and len(report.added) == 0  # the one that landed is unchanged now
    assert "199" in survivor.search("包邮吗", top_k=1)[0].answer


def test_sample_shop_syncs_cleanly(sample_shop):
    report = sample_shop.report  # its first sync, run once per session by conftest
    assert report.errors == [] and report.warnings == []
    assert 36 <= len(report.added) <= 50


def test_missing_knowledge_dir_is_a_clear_error(tmp_path, embedder):
    from bot.errors import DianxiaoerError

    kb = KnowledgeBase(Settings(data_dir=tmp_path, knowledge_dir=tmp_path / "nope"), embedder=embedder)
    with pytest.raises(DianxiaoerError, match="知识库目录不存在"):
        kb.sync()


# --- one writer at a time ---------------------------------------------------------------------


def test_a_second_writer_waits_then_fails_clearly(tmp_path, kdir, embedder, capsys):
    from bot.knowledge.lock import FileLock, SyncInProgressError

    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kdir, sync_lock_timeout=0.5, _env_file=None)
    holder = FileLock(settings.data_dir / "sync.lock")
    assert holder.try_acquire()
    try:
        with pytest.raises(SyncInProgressError, match="另一个同步仍在进行") as info:
            KnowledgeBase(settings, embedder=embedder).sync()
        assert f"进程 {os.getpid()}" in str(info.value)
        assert "另一个同步正在进行" in capsys.readouterr().err
    finally:
        holder.release()
    assert len(KnowledgeBase(settings, embedder=embedder).sync().added) == 4


def test_a_waiting_writer_proceeds_once_the_first_is_done(tmp_path):
    from bot.knowledge.lock import FileLock

    first, second = FileLock(tmp_path / "sync.lock"), FileLock(tmp_path / "sync.lock")
    assert first.try_acquire() and not second.try_acquire()
    told: list[str] = []
    threading.Timer(0.3, first.release).start()
    second.acquire(10, told.append)
    assert len(told) == 1 and str(os.getpid()) in told[0]
    second.release()


def test_all_locks_are_taken_together_or_not_at_all(tmp_path):
    from bot.knowledge.lock import AllLocks, FileLock, SyncInProgressError

    busy = FileLock(tmp_path / "b.lock")
    assert busy.try_acquire()
    both = AllLocks([FileLock(tmp_path / "a.lock"), FileLock(tmp_path / "b.lock")])
    assert not both.try_acquire()
    with pytest.raises(SyncInProgressError):
        both.acquire(0.3, lambda who: None)
    assert FileLock(tmp_path / "a.lock").try_acquire()  # released on failure


# --- freshness by content and the check ----------------------------------------------------------


def test_an_edit_that_keeps_every_count_is_served_after_a_crash_before_the_lexical_rebuild(make_kb, kdir, monkeypatch):
    kb = make_kb()
    kb.sync()
    (kdir / "faq.csv").write_text((kdir / "faq.csv").read_text(encoding="utf-8").replace("99", "199"), encoding="utf-8")
    monkeypatch.setattr(KnowledgeBase, "_rebuild_lexical", lambda self: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        make_kb().sync()
    monkeypatch.undo()
    again = make_kb()
    report = again.sync()
    assert not report.changed  # Chroma already had it: only the lexical index was behind
    assert "199" in again.search("包邮吗", top_k=1)[0].answer
    assert again.generation() == again.lexical.stamp
    assert again.check() == []


def test_check_finds_damage_and_repair_fixes_it(make_kb):
    kb = make_kb()
    kb.sync()
    store = kb.store
    [head] = [e for e, s in store.stored_entries().items() if s.vectors == 2 and "运费" in str(kb.lexical.phrasings[e])]
    store._chroma._collection.delete(ids=[f"{head}:1"])  # a similar question lost
    other = next(e for e in store.stored_entries() if e != head)
    store._passages._collection.delete(ids=[other])  # a passage lost
    store._chroma._collection.upsert(  # leftovers of an entry never committed
        ids=["ffff:1", "ffff:2"], embeddings=[[0.1] * 384] * 2,
        metadatas=[{"entry_id": "ffff", "phrasing": 1}, {"entry_id": "ffff", "phrasing": 2}],
    )
    problems = make_kb().check()
    assert any("缺少 1 个相似问法向量" in p for p in problems)
    assert any("缺少问答段落向量" in p for p in problems)
    assert any("不属于任何已同步条目" in p for p in problems)
    # A normal sync notices by the counts alone, and repairs.
    report = make_kb().sync()
    assert report.repaired and not report.unrepaired
    fixed = make_kb()
    assert fixed.check() == []
    assert fixed.search("运费多少", top_k=1)[0].question == "包邮吗？"


def test_repair_rewrites_stale_vectors_that_counts_cannot_see(make_kb):
    kb = make_kb()
    kb.sync()
    vector_id = next(v.vector_id for v in kb.store.all_vectors() if v.vector_id.endswith(":1"))
    got = kb.store._chroma._collection.get(ids=[vector_id], include=["metadatas", "documents", "embeddings"])
    stale = dict(got["metadatas"][0], hash="0" * 40)
    kb.store._chroma._collection.upsert(ids=[vector_id], embeddings=[list(got["embeddings"][0])], metadatas=[stale], documents=got["documents"])
    assert not make_kb().sync().repaired  # the counts agree: the cheap check cannot see it
    assert any("旧内容" in p for p in make_kb().check())
    report = make_kb().sync(repair_all=True)
    assert report.repaired
    assert make_kb().check() == []


def test_rebuilding_a_collection_keeps_every_healthy_record(make_kb):
    """What --repair does when records have lost their embeddings (they cannot be deleted in place)."""
    kb = make_kb()
    kb.sync()
    store = kb.store
    before = store._chroma._collection.get(include=["embeddings", "documents", "metadatas"])
    dropped = next(v for v in before["ids"] if v.endswith(":1"))
    passage = store._passages._collection.get(include=[])["ids"][0]
    store.rebuild_collections({dropped}, {passage})
    after = make_kb().store._chroma._collection.get(include=["embeddings", "documents", "metadatas"])
    kept = {v: (d, m) for v, d, m in zip(before["ids"], before["documents"], before["metadatas"]) if v != dropped}
    assert dict(zip(after["ids"], zip(after["documents"], after["metadatas"]))) == kept
    vectors = dict(zip(before["ids"], before["embeddings"]))
    assert all(np.allclose(vectors[v], e, atol=1e-6) for v, e in zip(after["ids"], after["embeddings"]))
    assert passage not in make_kb().store._passages._collection.get(include=[])["ids"]
    assert make_kb().check()  # the dropped records are missing now...
    assert make_kb().sync().repaired  # ...and the next sync writes them again
    assert make_kb().check() == []


@pytest.mark.parametrize(
    "payload",
    ['[]', '{"version": 3, "docs": {"a": 1}, "entries": {}, "stamp": ""}', '{"version": 3, "docs": [["x"]]}',
     '{"version": 3, "docs": [], "entries": [], "stamp": ""}', '"just text"'],
)
def test_a_lexical_index_of_the_wrong_shape_is_rebuilt_not_a_crash(make_kb, payload):
    kb = make_kb()
    kb.sync()
    docs = kb._lexical_dir / "docs.json"
    docs.write_text(payload, encoding="utf-8")
    again = make_kb()
    assert again.search("包邮吗")[0].question == "包邮吗？"
    assert len(again.lexical.docs) == kb.store.count()
    make_kb().sync()  # and a sync does not trip over it either
    assert make_kb().search("几天能到")[0].question == "几天能到？"


def test_a_wiped_data_dir_gets_a_fresh_store_not_the_one_cached_for_its_path(tmp_path):
    # Chroma caches one system per directory for the life of a process; after the directory is
    # wiped, reusing it reads a deleted database (and, once its pool reconnects, an empty file).
    import shutil

    from bot.knowledge.store import make_chroma_client

    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=tmp_path)
    first = make_chroma_client(settings)
    first.get_or_create_collection("faq").add(ids=["a"], embeddings=[[0.1, 0.2]])
    cached = first._system
    shutil.rmtree(settings.data_dir / "chroma")
    second = make_chroma_client(settings)
    assert second._system is not cached
    assert second.list_collections() == []
    second.get_or_create_collection("faq").add(ids=["b"], embeddings=[[0.3, 0.4]])
    assert second.get_collection("faq").count() == 1
