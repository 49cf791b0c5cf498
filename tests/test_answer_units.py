"""An answer's sentences, embedded one by one in the entry's passage record, and what reads them."""

import json

import numpy as np
import pytest

from bot.config import Settings
from bot.drafting.gate import FEATURES, features
from bot.drafting.rerank import CANDIDATE_FEATURES
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.units import FORM_KEY, MOST, UNITS_KEY, answer_units, pack, unpack


def test_an_answer_is_read_sentence_by_sentence_and_a_long_sentence_clause_by_clause():
    answer = "亲，满 99 元包邮。偏远地区（新疆、西藏）另收运费 15 元，一般下单后 48 小时内发出，顺丰和中通都可以选，需要指定快递请备注！好的"
    units = answer_units(answer)
    assert units[0] == "亲，满 99 元包邮。"
    long_sentence = "偏远地区（新疆、西藏）另收运费 15 元，一般下单后 48 小时内发出，顺丰和中通都可以选，需要指定快递请备注！"
    assert long_sentence in units
    assert "偏远地区（新疆、西藏）另收运费 15 元，" in units  # a clause of it, on its own
    assert "好的" not in units  # too short to say anything


def test_a_short_answer_is_its_own_unit_and_an_empty_one_has_none():
    assert answer_units("可以。") == ["可以。"]
    assert answer_units("好") == ["好"]
    assert answer_units("  ") == []


def test_a_long_document_keeps_its_first_units():
    text = "".join(f"第{i}条规定的内容在这里。" for i in range(100))
    units = answer_units(text)
    assert len(units) == MOST and units[0] == "第0条规定的内容在这里。"


def test_packed_vectors_come_back_unit_length_within_float16():
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((4, 384)).astype(np.float32)
    back = unpack(pack(rows), 384)
    expected = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    assert back.shape == (4, 384)
    assert np.abs(back - expected).max() < 1e-3
    assert unpack("", 384).shape == (0, 384)
    assert unpack(pack(rows), 100).shape == (0, 100)  # another model's size is not read as this one's


@pytest.fixture
def kdir(tmp_path):
    path = tmp_path / "knowledge"
    path.mkdir()
    (path / "faq.csv").write_text(
        "问题,答案,相似问题\n"
        "包邮吗？,满 99 元包邮。偏远地区另收 15 元运费。顺丰次日达需补 10 元差价。,运费多少\n"
        "能开发票吗？,可以开电子发票，下单时填写抬头和税号。纸质专票需另外联系客服。,\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def make_kb(tmp_path, kdir, e5):
    def make() -> KnowledgeBase:
        return KnowledgeBase(Settings(data_dir=tmp_path / "data", knowledge_dir=kdir, _env_file=None), embedder=e5)

    return make


def _records(kb):
    got = kb.store._passages._collection.get(include=["metadatas"])
    return dict(zip(got["ids"], got["metadatas"]))


def test_each_passage_record_carries_its_answers_sentence_vectors(make_kb, e5):
    kb = make_kb()
    kb.sync()
    entry_id = next(i for i, m in kb.lexical.entries.items() if m["question"] == "包邮吗？")
    units = unpack(str(_records(kb)[entry_id][UNITS_KEY]), 384)
    texts = answer_units("满 99 元包邮。偏远地区另收 15 元运费。顺丰次日达需补 10 元差价。")
    assert len(texts) == 3 and units.shape == (3, 384)
    fresh = e5.encode_passages(texts)
    fresh = fresh / np.linalg.norm(fresh, axis=1, keepdims=True)
    assert np.abs(units - fresh).max() < 2e-3


def test_search_reads_the_best_sentence_of_each_hit(make_kb, e5):
    kb = make_kb()
    kb.sync()
    query = "顺丰次日达要加钱吗"
    hits = kb.search(query)
    top = next(h for h in hits if h.question == "包邮吗？")
    q = e5.encode_query(query)
    units = kb.passages.units[top.id]
    assert top.sentence == pytest.approx(float(np.max(units.astype(np.float32) @ q)), abs=1e-5)
    # The sentence about 顺丰 fits this message better than the whole passage does.
    assert top.sentence > top.passage


def test_the_gate_and_the_reranker_read_the_sentence_signal(make_kb):
    kb = make_kb()
    kb.sync()
    hits = kb.search("顺丰次日达要加钱吗")
    values = features("顺丰次日达要加钱吗", hits, kb.lexical)
    assert {"sentence", "sentence_margin"} <= set(FEATURES) and {"sentence", "sentence_gap"} <= set(CANDIDATE_FEATURES)
    assert values["sentence"] == hits[0].sentence
    assert values["sentence_margin"] == pytest.approx(hits[0].sentence - hits[1].sentence)


def _to_older_form(kb):
    """What an older version left: passage records with a hash and nothing else, no form in the state."""
    records = _records(kb)
    collection = kb.store._passages._collection
    got = collection.get(ids=list(records), include=["embeddings"])
    collection.delete(ids=list(records))
    collection.add(ids=got["ids"], embeddings=got["embeddings"], metadatas=[{"hash": records[i]["hash"]} for i in got["ids"]])
    state = kb._state_path
    payload = json.loads(state.read_text(encoding="utf-8"))
    del payload["passage_form"]
    state.write_text(json.dumps(payload), encoding="utf-8")
    return records


def test_a_store_written_before_sentences_gets_them_on_the_next_sync_without_new_phrasings(make_kb):
    kb = make_kb()
    kb.sync()
    records = _to_older_form(kb)
    older = make_kb()
    assert any("旧格式" in problem for problem in older.check())  # the store check says why
    assert older.passages.units == {}  # served without them meanwhile: the feature falls back to the passage
    hits = older.search("顺丰次日达要加钱吗")
    assert all(h.sentence == h.passage for h in hits)

    written = []
    again = make_kb()
    upsert = again.store._write_phrasings
    again.store._write_phrasings = lambda pending, progress: (written.extend(pending), upsert(pending, progress))
    report = again.sync()
    assert not report.changed and written == []  # no phrasing embedded again
    after = _records(again)
    assert all(m[FORM_KEY] == 2 and m[UNITS_KEY] for m in after.values())
    assert set(make_kb().passages.units) == set(records)
    assert make_kb().check() == []


def test_a_replica_following_reloads_passages_rewritten_in_the_new_form(make_kb, tmp_path):
    from sqlmodel import SQLModel, create_engine

    import bot.memory.models  # noqa: F401  (the replicas' stamp table)
    from bot.knowledge.replica import Replica

    engine = create_engine(f"sqlite:///{tmp_path / 'replicas.db'}")
    SQLModel.metadata.create_all(engine)
    writer = make_kb()
    writer.replica = Replica(lambda: engine, "faq")
    writer.sync()
    _to_older_form(writer)
    follower = make_kb()
    follower.replica = Replica(lambda: engine, "faq")
    follower.search("顺丰次日达要加钱吗")
    assert follower.passages.units == {}  # loaded before the writer's next sync
    again = make_kb()
    again.replica = Replica(lambda: engine, "faq")
    assert not again.sync().changed  # only the passage records' form changes
    follower.replica._next_check = 0.0  # its next look at the stamp is due
    follower.search("顺丰次日达要加钱吗")
    assert len(follower.passages.units) == 2
