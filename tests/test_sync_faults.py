"""A sync killed at any point, or run twice at once, ends in the same store as a clean sync.

Each case runs `dianxiaoer index` in a subprocess that exits at once (os._exit, as under
kill -9) after N written batches or at a named phase (bot/knowledge/faults.py), then a normal
sync; the store must then equal a clean sync of the same files into a fresh data dir: the same
vector ids, texts, hashes and embeddings, passages, lexical documents and stamp, recorded
generation and search results, and `index --check` finds nothing. The remaining batches and
phases run in-process (the fault raises instead of exiting), which is cheaper and leaves the
store the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.faults import EXIT_CODE
from bot.knowledge.lexical import LexicalIndex
from bot.knowledge.lock import FileLock
from bot.knowledge.retrieve import FusionWeights, dense_ranking, lexical_ranking
from bot.knowledge.units import FORM_KEY, UNITS_KEY, unpack

ROOT = Path(__file__).resolve().parent.parent

QUERIES = ("包邮吗", "运费怎么算", "龙井能放多久", "可以开发票吗", "店铺地址", "茶园参观")

BEFORE = {
    "faq.csv": "问题,答案,相似问题\n"
    "包邮吗？,满 299 元包邮。,运费多少|邮费怎么算\n"
    "几天能到？,一般 2–4 天。,多久到\n"
    "能开发票吗？,可以开电子发票。,\n"
    "可以退货吗？,七天无理由退货。,能退吗|不想要了\n"
    "有礼盒吗？,有，加 20 元。,\n",
    "tea.md": "# 茶\n## 龙井保质期多久？\n相似问题：龙井能放多久\n冷藏 18 个月。\n## 普洱怎么存？\n阴凉干燥处。\n",
    "shop.jsonl": '{"question": "有门店吗？", "answer": "杭州龙井路 18 号。", "similar": ["店铺地址"]}\n',
    "about.txt": "我们是一家杭州的茶铺。\n\n" + "茶园开放参观，每年三月到四月可以预约。" * 20,
}
# An answer edited (299 → 399), similar questions added and removed, an entry added, one removed.
AFTER = {
    **BEFORE,
    "faq.csv": "问题,答案,相似问题\n"
    "包邮吗？,满 399 元包邮。,运费多少|要运费吗|偏远地区包邮吗\n"
    "几天能到？,一般 2–4 天。,多久到\n"
    "能开发票吗？,可以开电子发票和纸质发票。,怎么开票\n"
    "可以退货吗？,七天无理由退货。,\n"
    "可以试喝吗？,可以申请 5 克试饮装。,有小样吗\n",
}


def write_files(kdir: Path, files: dict[str, str]) -> None:
    kdir.mkdir(parents=True, exist_ok=True)
    for old in kdir.iterdir():
        old.unlink()
    for name, text in files.items():
        (kdir / name).write_text(text, encoding="utf-8")


def settings_for(root: Path) -> Settings:
    return Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)


def run_index(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`dianxiaoer index` as its own process, seeing no DIANXIAOER_* but ours."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIANXIAOER_")}
    clean.update(DIANXIAOER_DATA_DIR=str(root / "data"), DIANXIAOER_KNOWLEDGE_DIR=str(root / "knowledge"))
    clean.update({f"DIANXIAOER_{k.upper()}": v for k, v in env.items()})
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "index", *args],
        cwd=root, env=clean, capture_output=True, text=True, timeout=300,
    )


def snapshot(settings: Settings, embedder) -> dict[str, object]:
    kb = KnowledgeBase(settings, embedder=embedder)
    # include=["embeddings"] raises for a record whose embedding is lost.
    vectors = kb.store._chroma._collection.get(include=["documents", "metadatas", "embeddings"])
    passages = kb.store._passages._collection.get(include=["metadatas", "embeddings"])
    lexical = LexicalIndex.load(kb._lexical_dir)
    assert lexical is not None
    return {
        "vectors": sorted(zip(vectors["ids"], vectors["documents"], map(sorted, map(dict.items, vectors["metadatas"])))),
        "embeddings": dict(zip(vectors["ids"], np.asarray(vectors["embeddings"]))),
        "passages": sorted(zip(passages["ids"], [(m["hash"], m.get(FORM_KEY)) for m in passages["metadatas"]])),
        "passage_embeddings": dict(zip(passages["ids"], np.asarray(passages["embeddings"]))),
        # The answer's sentence vectors, which travel in the passage record.
        "passage_units": {vid: unpack(str(m.get(UNITS_KEY) or ""), 384).astype(np.float32)
                          for vid, m in zip(passages["ids"], passages["metadatas"])},
        "lexical_docs": sorted((d.vector_id, d.entry_id, d.text) for d in lexical.docs),
        "lexical_entries": lexical.entries,
        "lexical_stamp": lexical.stamp,
        "generation": kb.generation(),
        "search": searched_afresh(settings),
        "check": kb.check(),
    }


def searched_afresh(settings: Settings) -> list[object]:
    """`rankings` of every query, by a new process reading the store (a restarted bot, another
    replica). Not in this process: after an incremental sync, Chroma's in-memory index in the
    process that wrote it sometimes leaves a newly added vector out of its queries (1 in ~30
    syncs here, while `get` and a new process find it), which is no state of the store."""
    code = (
        "import json, sys; from pathlib import Path; from tests.test_sync_faults import QUERIES, rankings, "
        "settings_for; from bot.knowledge.base import KnowledgeBase; "
        "from bot.knowledge.embeddings import E5Embeddings; "
        "kb = KnowledgeBase(settings_for(Path(sys.argv[1])), embedder=E5Embeddings()); "
        "print(json.dumps([(q, *rankings(kb, q)) for q in QUERIES], ensure_ascii=False))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIANXIAOER_")}
    done = subprocess.run([sys.executable, "-c", code, str(settings.data_dir.parent)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def rankings(kb: KnowledgeBase, query: str) -> tuple[list[tuple[str, object]], list[str]]:
    """What search reads from the store for a query: the dense ranking (with each entry's
    answer as the lexical index shows it) and the BM25 ranking. The re-ranking after them
    depends on the query alone. As many neighbours as search asks Chroma for: with only 5, its
    approximate (HNSW) search explores fewer nodes and once missed an entry added by a resumed
    sync that a clean sync's graph returned."""
    vector = kb.embedder.embed_query(query)
    dense = dense_ranking(kb.store, kb.lexical, vector, FusionWeights().candidates)[:3]
    lexical = lexical_ranking(kb.lexical, query, 3)
    return [(e, kb.lexical.entries[e]["answer"]) for e, _, _ in dense], [e for e, _, _ in lexical]


def top_answer(settings: Settings, embedder, query: str) -> object:
    return rankings(KnowledgeBase(settings, embedder=embedder), query)[0][0][1]


def assert_same_store(got: dict[str, object], want: dict[str, object]) -> None:
    assert got["check"] == []
    assert got["generation"] == got["lexical_stamp"] == want["generation"]
    for key in ("vectors", "passages", "lexical_docs", "lexical_entries", "search"):
        assert got[key] == want[key], key
    for key in ("embeddings", "passage_embeddings"):
        assert got[key].keys() == want[key].keys()
        for vid, vector in want[key].items():
            assert np.allclose(got[key][vid], vector, atol=1e-4), (key, vid)
    assert got["passage_units"].keys() == want["passage_units"].keys()
    for vid, units in want["passage_units"].items():
        assert len(units) and got["passage_units"][vid].shape == units.shape, vid
        assert np.allclose(got["passage_units"][vid], units, atol=2e-3), vid


@pytest.fixture(scope="module")
def embedder():
    from bot.knowledge.embeddings import E5Embeddings

    return E5Embeddings()


@pytest.fixture(scope="module")
def clean(tmp_path_factory, embedder):
    """BEFORE synced (to start each case from) and a clean sync of AFTER (what each must equal)."""
    root = tmp_path_factory.mktemp("clean")
    before, after = root / "before", root / "after"
    write_files(before / "knowledge", BEFORE)
    write_files(after / "knowledge", AFTER)
    KnowledgeBase(settings_for(before), embedder=embedder).sync()
    KnowledgeBase(settings_for(after), embedder=embedder).sync()
    return before, snapshot(settings_for(after), embedder)


@pytest.mark.parametrize(
    "fault",
    [
        {"fault_after_batches": "1"},  # passages of the changed entries written, nothing committed
        {"fault_after_batches": "3"},  # their similar questions too, and a lost one's vector deleted
        {"fault_at_phase": "embedded"},  # changes committed, lexical index old (299 was served for good)
        {"fault_at_phase": "lexical"},  # the lexical index new, the sync state old
    ],
    ids=lambda fault: "-".join(fault.values()),
)
def test_a_sync_killed_anywhere_is_finished_by_the_next(tmp_path, clean, embedder, fault):
    before, want = clean
    shutil.copytree(before / "data", tmp_path / "data")
    write_files(tmp_path / "knowledge", AFTER)
    killed = run_index(tmp_path, **fault)
    assert killed.returncode == EXIT_CODE, killed.stderr[-2000:]
    assert "[fault injection]" in killed.stderr
    KnowledgeBase(settings_for(tmp_path), embedder=embedder).sync()
    assert_same_store(snapshot(settings_for(tmp_path), embedder), want)
    assert "399" in top_answer(settings_for(tmp_path), embedder, "包邮吗")


class Killed(BaseException):
    """Stands in for os._exit in-process: nothing of the sync's own runs after it either."""


@pytest.mark.parametrize(
    "fault",
    [{"fault_after_batches": n} for n in (2, 4, 5)] + [{"fault_at_phase": p} for p in ("locked", "deleted", "checked", "done")],
    ids=lambda fault: "-".join(map(str, fault.values())),
)
def test_every_other_point_in_process(tmp_path, clean, embedder, fault, monkeypatch):
    """The remaining batches and phases, without a process per case: the fault raises instead of
    exiting, which leaves the store exactly as a kill would (no sync code catches it)."""
    from bot.knowledge import faults

    before, want = clean
    shutil.copytree(before / "data", tmp_path / "data")
    write_files(tmp_path / "knowledge", AFTER)
    monkeypatch.setattr(faults, "_die", lambda where: (_ for _ in ()).throw(Killed(where)))
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=tmp_path / "knowledge", _env_file=None, **fault)
    with pytest.raises(Killed):
        KnowledgeBase(settings, embedder=embedder).sync()
    KnowledgeBase(settings_for(tmp_path), embedder=embedder).sync()
    assert_same_store(snapshot(settings_for(tmp_path), embedder), want)


def test_a_first_index_killed_part_way_is_finished_by_the_next(tmp_path, clean, embedder):
    _, want = clean
    write_files(tmp_path / "knowledge", AFTER)
    killed = run_index(tmp_path, fault_after_batches="2")
    assert killed.returncode == EXIT_CODE, killed.stderr
    KnowledgeBase(settings_for(tmp_path), embedder=embedder).sync()
    assert_same_store(snapshot(settings_for(tmp_path), embedder), want)


def shop_csv(entries: int) -> str:
    rows = ["问题,答案,相似问题"]
    for n in range(entries):
        rows.append(f"第{n}号茶多少钱？,第{n}号茶每斤 {100 + n} 元。,{n}号茶价格")
    return "\n".join(rows) + "\n"


TWO_SYNCS_ENTRIES = 800


def test_two_syncs_at_once_leave_a_whole_store(tmp_path, embedder):
    """The second run must wait for the whole first sync. Before the lock, two runs over 800
    entries both exited 0 and left 226 vectors without embeddings (issue 20, item 1). 800 entries
    also keep the first sync running (~10 s) well past the second process's start-up: with 100,
    the 8-bit embedder finished the first before the second asked for the lock."""
    root = tmp_path
    n = TWO_SYNCS_ENTRIES
    write_files(root / "knowledge", {"faq.csv": shop_csv(n)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIANXIAOER_")}
    env.update(DIANXIAOER_DATA_DIR=str(root / "data"), DIANXIAOER_KNOWLEDGE_DIR=str(root / "knowledge"))
    command = [sys.executable, "-c", "from bot.cli import main; main()", "index", "--json"]
    runs = [subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    # Start the second once the first holds the lock, so that it must wait however loaded the machine is.
    probe = FileLock(root / "data" / "sync.lock")
    deadline = time.monotonic() + 120
    while probe.try_acquire():
        probe.release()
        assert time.monotonic() < deadline and runs[0].poll() is None, runs[0].communicate()
        time.sleep(0.05)
    runs.append(subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    # The second waited for the first and said so; between them every entry was added exactly once.
    assert "另一个同步正在进行" in outputs[1][1]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sorted((r["added"], r["unchanged"]) for r in reports) == [(0, n), (n, 0)]

    # The store is what one clean sync makes: --check reads every embedding and compares the
    # files, both collections and the lexical index; a sample of vectors is re-embedded.
    kb = KnowledgeBase(settings_for(root), embedder=embedder)
    assert kb.check() == []
    got = kb.store._chroma._collection.get(include=["documents", "embeddings"])
    assert len(got["ids"]) == 2 * n and len(set(got["ids"])) == 2 * n
    sample = list(range(0, 2 * n, 2 * n // 10))
    fresh = embedder.encode_queries([got["documents"][i] for i in sample])
    assert np.allclose(np.asarray(got["embeddings"])[sample], fresh, atol=1e-4)
    assert kb.generation() == LexicalIndex.load(kb._lexical_dir).stamp
    assert top_answer(settings_for(root), embedder, "第73号茶多少钱") == "第73号茶每斤 173 元。"


@pytest.mark.parametrize("phase", ["embedded", "checked"])
def test_between_a_killed_sync_and_the_next_readers_serve_what_the_store_holds(tmp_path, clean, embedder,
                                                                                phase, monkeypatch):
    """Killed after the edited answer (299 → 399 元, nothing else changed, so every count is the
    same) was committed but before the lexical index was rebuilt: a new process that searches
    before anyone syncs again answers 399, not 299."""
    from bot.knowledge import faults

    before, _ = clean
    shutil.copytree(before / "data", tmp_path / "data")
    write_files(tmp_path / "knowledge", {**BEFORE, "faq.csv": BEFORE["faq.csv"].replace("299", "399")})
    monkeypatch.setattr(faults, "_die", lambda where: (_ for _ in ()).throw(Killed(where)))
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=tmp_path / "knowledge", _env_file=None,
                        fault_at_phase=phase)
    with pytest.raises(Killed):
        KnowledgeBase(settings, embedder=embedder).sync()
    assert "399" in top_answer(settings_for(tmp_path), embedder, "包邮吗")
