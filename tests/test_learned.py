"""Learned phrasings: what staff decide becomes one more vector of the entry, kept in the database,
put back by every sync and dropped with its entry."""

import json
import shutil

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from bot.cli import cli
from bot.drafting.assistant import Assistant
from bot.drafting.learning import DatabaseLearned, learn, record_decision, unlearn
from bot.errors import DianxiaoerError
from bot.knowledge.base import KnowledgeBase
from bot.memory import crud
from bot.memory.db import init_db, make_engine
from bot.memory.learned import labelled_questions, list_learned, record_label, vector_id

# Words no entry of the sample shop is about, so only a learned phrasing can lead to one.
ODD = "兔子跳跳糖怎么弄"
FREE_SHIPPING = "包邮吗？"


@pytest.fixture
def shop(tmp_path, sample_shop):
    settings = sample_shop.copy_to(tmp_path)
    engine = make_engine(settings)
    init_db(engine)

    def open_kb():
        return KnowledgeBase(settings, embedder=sample_shop.embedder, learned=DatabaseLearned(engine))

    return settings, engine, open_kb


def _first(kb: KnowledgeBase, text: str) -> str:
    """The entry the reply would use for `text`: the search re-ranked by the shop's gate, as
    `ask` plans it (the raw fused order can rank a taught phrasing's entry lower, since taught
    phrasings are kept out of BM25)."""
    from bot.drafting.calibration import shop_gate
    from bot.knowledge.normalize import normalize_message

    query = normalize_message(text)
    gate = shop_gate(kb)
    return gate.order(query, kb.search(query), kb.lexical)[0].id


def _entry_id(kb: KnowledgeBase, question: str) -> str:
    return next(eid for eid, meta in kb.lexical.entries.items() if meta["question"] == question)


def test_a_learned_phrasing_is_searchable_at_once_and_after_reopening(shop):
    _, engine, open_kb = shop
    kb = open_kb()
    target = _entry_id(kb, FREE_SHIPPING)
    assert _first(kb, ODD) != target
    with Session(engine) as session:
        row = learn(session=session, knowledge=kb, text=ODD, entry_id=target)
    assert _first(kb, ODD) == target  # same process, no re-sync
    assert f"{target}:L{row.id}" in kb.lexical.by_vector
    # Updated in memory, it is what a rebuild from Chroma would give, and the store checks clean.
    assert {d.vector_id: d.text for d in kb.lexical.docs} == {v.vector_id: v.text for v in kb.store.all_vectors()}
    assert kb.check() == []
    assert _first(open_kb(), ODD) == target  # another process, after reopening


def test_a_learned_phrasing_survives_resync_edits_and_a_wiped_index(shop):
    settings, engine, open_kb = shop
    kb = open_kb()
    target = _entry_id(kb, FREE_SHIPPING)
    with Session(engine) as session:
        learn(session=session, knowledge=kb, text=ODD, entry_id=target)
    assert not kb.sync().changed
    assert _first(kb, ODD) == target
    # Counted apart from the entry's own phrasings: the store's check finds nothing wrong.
    assert kb.check() == []
    csv = settings.knowledge_dir / "售后与物流.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("单笔订单满 99 元", "单笔订单满 88 元"), encoding="utf-8")
    report = kb.sync()
    assert [e.id for e in report.updated] == [target]
    assert _first(kb, ODD) == target
    # A new data dir (or a new embedding model) starts empty: the database puts it back. The old
    # handle is kept alive on purpose: a client Chroma cached for the wiped path must not be reused.
    old_kb = kb  # noqa: F841
    shutil.rmtree(settings.data_dir / "chroma")
    shutil.rmtree(settings.data_dir / "lexical")
    kb = open_kb()
    kb.sync()
    assert _first(kb, ODD) == target
    assert kb.store.count() == len(kb.lexical.docs)


def test_a_learned_phrasing_disappears_with_its_entry(shop):
    settings, engine, open_kb = shop
    kb = open_kb()
    target = _entry_id(kb, FREE_SHIPPING)
    with Session(engine) as session:
        row = learn(session=session, knowledge=kb, text=ODD, entry_id=target)
    csv = settings.knowledge_dir / "售后与物流.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    csv.write_text("".join(line for line in lines if not line.startswith(FREE_SHIPPING)), encoding="utf-8")
    assert kb.sync().removed == [target]
    assert vector_id(row) not in kb.store.learned_vectors()
    assert vector_id(row) not in kb.lexical.by_vector
    with Session(engine) as session:
        assert list_learned(session=session) == []


def test_learning_an_unknown_entry_is_a_clear_error(shop):
    _, engine, open_kb = shop
    with Session(engine) as session, pytest.raises(DianxiaoerError, match="条目 nope 不存在"):
        learn(session=session, knowledge=open_kb(), text=ODD, entry_id="nope")


def test_relearning_the_same_words_moves_them_and_unlearning_removes_the_vector(shop):
    _, engine, open_kb = shop
    kb = open_kb()
    first, second = _entry_id(kb, FREE_SHIPPING), _entry_id(kb, "能开发票吗？")
    with Session(engine) as session:
        a = learn(session=session, knowledge=kb, text=ODD, entry_id=first)
        old = vector_id(a)
        b = learn(session=session, knowledge=kb, text=ODD, entry_id=second)
        assert a.id == b.id and _first(kb, ODD) == second
        assert old not in kb.store.learned_vectors()
        unlearn(session=session, knowledge=kb, learned_id=b.id)
        assert list_learned(session=session) == []
    assert kb.store.learned_vectors() == {}


def test_staff_decisions_teach_the_next_ask(shop):
    settings, engine, open_kb = shop
    assistant = Assistant(settings, knowledge=open_kb(), engine=engine)
    kb = assistant.knowledge
    target = _entry_id(kb, FREE_SHIPPING)
    first = assistant.ask(ODD)
    assert first.handoff
    with Session(engine) as session:
        decision = record_decision(
            session=session, knowledge=kb, draft_id=first.draft_id, status="approved", entry_id=target
        )
        assert decision.learned is not None and decision.learned.text == ODD
    again = assistant.ask(ODD)
    # Whether the gate now answers is the calibrated model's call; the entry is found first.
    assert again.nearest[0].id == target and again.confidence > first.confidence
    # Without --entry the draft's first source is the one taught; a rejection labels the FAQ as
    # not answering.
    answered = assistant.ask("能开发票吗")
    rejected = assistant.ask("你们卖咖啡豆吗")
    with Session(engine) as session:
        approved = record_decision(session=session, knowledge=kb, draft_id=answered.draft_id, status="approved")
        assert approved.learned.entry_id == answered.sources[0].id
        record_decision(session=session, knowledge=kb, draft_id=rejected.draft_id, status="rejected")
        labels = labelled_questions(session=session)
    assert [(x.text, x.entry_id, x.decision) for x in labels] == [
        (ODD, target, "approved"),
        ("能开发票吗", answered.sources[0].id, "approved"),
        ("你们卖咖啡豆吗", None, "rejected"),
    ]


def test_a_draft_answering_several_things_teaches_nothing_without_entry(shop):
    settings, engine, open_kb = shop
    kb = open_kb()
    with Session(engine) as session:
        conversation = crud.start_conversation(session=session, customer_id=None, channel="cli")
        crud.add_message(session=session, conversation_id=conversation.id, role="customer", text="包邮吗？能开发票吗")
        draft = crud.create_draft(session=session, text="x", conversation_id=conversation.id,
                                  cited_entry_ids=[_entry_id(kb, FREE_SHIPPING), _entry_id(kb, "能开发票吗？")])
        session.commit()
        decision = record_decision(session=session, knowledge=kb, draft_id=draft.id, status="approved")
        assert decision.learned is None and "多个条目" in decision.note
        assert decision.draft.status == "approved" and list_learned(session=session) == []


def test_an_entry_only_goes_with_approve_or_edit(shop):
    settings, engine, open_kb = shop
    kb = open_kb()
    with Session(engine) as session:
        draft = crud.create_draft(session=session, text="x")
        session.commit()
        with pytest.raises(DianxiaoerError, match="--entry"):
            record_decision(session=session, knowledge=kb, draft_id=draft.id, status="rejected",
                            entry_id=_entry_id(kb, FREE_SHIPPING))


def test_labels_round_trip_and_reject_bad_input(session):
    row = record_label(session=session, text="  顺丰能到吗 ", entry_id="e1", decision="chosen")
    assert row.text == "顺丰能到吗" and vector_id(row) == f"e1:L{row.id}"
    record_label(session=session, text="有咖啡吗", entry_id=None, decision="rejected")
    assert [r.text for r in list_learned(session=session)] == ["顺丰能到吗"]
    assert [r.text for r in list_learned(session=session, entry_id="e2")] == []
    with pytest.raises(DianxiaoerError, match="空"):
        record_label(session=session, text="  ", entry_id="e1", decision="chosen")
    with pytest.raises(DianxiaoerError, match="太长"):
        record_label(session=session, text="问" * 600, entry_id="e1", decision="chosen")
    with pytest.raises(DianxiaoerError, match="未知决定"):
        record_label(session=session, text="x", entry_id="e1", decision="maybe")


def test_cli_decide_with_entry_and_learned_list_and_remove(shop):
    settings, engine, open_kb = shop
    env = {"DIANXIAOER_DATA_DIR": str(settings.data_dir), "DIANXIAOER_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    runner = CliRunner()
    asked = runner.invoke(cli, ["ask", ODD, "--json"], env=env)
    assert asked.exit_code == 0, asked.output
    draft_id = json.loads(asked.output)["draft_id"]
    target = _entry_id(open_kb(), FREE_SHIPPING)
    decided = runner.invoke(cli, ["decide", str(draft_id), "approve", "--entry", target], env=env)
    assert decided.exit_code == 0, decided.output
    assert "已学习" in decided.output
    listed = runner.invoke(cli, ["learned", "list", "--json", "--entry", target], env=env)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["text"], r["entry_id"], r["decision"], r["entry_question"]) for r in rows] == [
        (ODD, target, "approved", FREE_SHIPPING)
    ]
    # Another process: the learned phrasing leads straight to its entry.
    trace = json.loads(runner.invoke(cli, ["explain", ODD, "--json"], env=env).output)
    assert trace["parts"][0]["candidates"][0]["id"] == target
    rejected = json.loads(runner.invoke(cli, ["ask", "你们卖咖啡豆吗", "--json"], env=env).output)["draft_id"]
    assert runner.invoke(cli, ["decide", str(rejected), "reject"], env=env).exit_code == 0
    labels = json.loads(runner.invoke(cli, ["learned", "list", "--all", "--json"], env=env).output)
    assert [(r["text"], r["entry_id"]) for r in labels] == [(ODD, target), ("你们卖咖啡豆吗", None)]
    assert "知识库不能回答" in runner.invoke(cli, ["learned", "list", "--all"], env=env).output
    removed = runner.invoke(cli, ["learned", "remove", str(rows[0]["id"])], env=env)
    assert removed.exit_code == 0, removed.output
    assert json.loads(runner.invoke(cli, ["learned", "list", "--json"], env=env).output) == []
    assert len(json.loads(runner.invoke(cli, ["learned", "list", "--all", "--json"], env=env).output)) == 1
    missing = runner.invoke(cli, ["learned", "remove", "999"], env=env)
    assert missing.exit_code == 1 and "不存在" in missing.output


def test_a_phrasing_learned_while_a_sync_holds_the_index_is_recorded_and_added_by_the_next_sync(shop):
    from bot.knowledge.lock import writer_lock

    settings, engine, open_kb = shop
    kb = KnowledgeBase(settings.model_copy(update={"sync_lock_timeout": 0.0}), embedder=open_kb().embedder,
                       learned=DatabaseLearned(engine))
    target = _entry_id(kb, FREE_SHIPPING)
    other = writer_lock(settings)
    assert other.try_acquire()  # another process is syncing
    try:
        with Session(engine) as session:
            row = learn(session=session, knowledge=kb, text=ODD, entry_id=target)
    finally:
        other.release()
    assert vector_id(row) not in kb.store.learned_vectors()
    kb.sync()
    assert vector_id(row) in kb.store.learned_vectors() and _first(kb, ODD) == target


def test_staff_judge_the_trade_s_rules_for_the_words_they_taught_and_no_others(shop):
    from bot.knowledge.entries import Hit
    from bot.policy.evaluate import evaluate

    _, engine, open_kb = shop
    kb = open_kb()
    target = _entry_id(kb, "可以退货吗？")
    meta = kb.lexical.entries[target]
    top = Hit(id=target, question=str(meta["question"]), answer=str(meta["answer"]), source="x", score=1.0)
    taught = "淘宝上买的能在这退吗"
    assert evaluate(taught, top, kb.lexical).rule == "other_channel"
    with Session(engine) as session:
        learn(session=session, knowledge=kb, text=taught, entry_id=target)
    assert evaluate(taught, top, kb.lexical) is None  # staff said this entry answers these words
    # Their words do not make the entry speak of other shops for other questions.
    assert evaluate("淘宝上有你们店吗", top, kb.lexical).rule == "other_channel"
    # Nor lift a rule that holds in any shop.
    with Session(engine) as session:
        learn(session=session, knowledge=kb, text="退货要多少钱", entry_id=target)
    assert evaluate("退货要多少钱", top, kb.lexical).rule == "price"


def test_learned_list_drops_escape_sequences_from_customer_text(tmp_path):
    from bot.config import Settings
    from bot.memory.db import open_db

    engine = open_db(Settings(data_dir=tmp_path / "data", _env_file=None))
    with Session(engine) as session:
        record_label(session=session, text="\x1b]0;PWNED\x07有咖啡吗\x9b2J", entry_id=None, decision="rejected")
        session.commit()
    engine.dispose()
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(tmp_path / "kb")}
    text = CliRunner().invoke(cli, ["learned", "list", "--all"], env=env)
    assert text.exit_code == 0, text.output
    assert "有咖啡吗" in text.output and not any(ch in text.output for ch in "\x1b\x07\x9b"), repr(text.output)
    raw = CliRunner().invoke(cli, ["learned", "list", "--all", "--json"], env=env).output
    assert "\x9b" not in raw and json.loads(raw)[0]["text"].endswith("有咖啡吗\x9b2J")



def test_bm25_leaves_taught_phrasings_out_and_a_decision_does_not_rebuild_it(shop):
    """A taught message changes no other phrasing's BM25 score and scores 0 itself, its words
    still count as known, and the index saved with it loads with the same scores."""
    import numpy as np

    from bot.knowledge.lexical import LexicalIndex

    _, _, open_kb = shop
    kb = open_kb()
    query = "运费 新疆 发货 喀什"
    before = kb.lexical.scores(query)
    bm25 = kb.lexical._bm25
    target = _entry_id(kb, FREE_SHIPPING)
    kb.add_learned({f"{target}:L7": (target, "喀什的朋友想买运费多少")})
    lexical = kb.lexical
    assert lexical._bm25 is bm25  # carried over, not rebuilt
    learned = [i for i, d in enumerate(lexical.docs) if d.learned]
    after = lexical.scores(query)
    assert len(learned) == 1 and after[learned[0]] == 0.0
    assert np.allclose(np.delete(after, learned), before) and before.max() > 0
    assert lexical.knows("喀什") and not LexicalIndex([d for d in lexical.docs if not d.learned]).knows("喀什")
    loaded = LexicalIndex.load(kb._lexical_dir)
    assert loaded is not None and np.allclose(loaded.scores(query), after)
    assert _first(open_kb(), "喀什的朋友想买运费多少") == target


def test_a_renamed_or_moved_file_keeps_what_staff_taught_its_entries(shop, monkeypatch):
    """An entry's id is its file and question: renamed, the file's entries get new ids, and what
    staff taught and labelled for them goes with them instead of being forgotten."""
    settings, engine, open_kb = shop
    kb = open_kb()
    target = _entry_id(kb, FREE_SHIPPING)
    with Session(engine) as session:
        learn(session=session, knowledge=kb, text=ODD, entry_id=target)
    old = settings.knowledge_dir / "售后与物流.csv"
    (settings.knowledge_dir / "售后").mkdir()
    moved = settings.knowledge_dir / "售后" / "物流说明.csv"
    old.rename(moved)
    # Killed right after the move was written, before the old entries were deleted: the next
    # sync finds the same pairs and deletes them then.
    store_type = type(kb.store)
    real_delete = store_type.delete

    def killed(self, ids):  # type: ignore[no-untyped-def]
        raise RuntimeError("killed")

    monkeypatch.setattr(store_type, "delete", killed)
    with pytest.raises(RuntimeError):
        kb.sync()
    monkeypatch.setattr(store_type, "delete", real_delete)
    kb = open_kb()
    report = kb.sync()
    new = _entry_id(kb, FREE_SHIPPING)
    assert new != target and target in report.removed
    assert _first(kb, ODD) == new
    with Session(engine) as session:
        assert [r.entry_id for r in list_learned(session=session)] == [new]
    assert kb.check() == []
    # Two entries with one content are not guessed at: copied, then the original deleted.
    copy = settings.knowledge_dir / "副本.csv"
    copy.write_text(moved.read_text(encoding="utf-8"), encoding="utf-8")
    kb.sync()
    moved.unlink()
    (settings.knowledge_dir / "另一个副本.csv").write_text(copy.read_text(encoding="utf-8"), encoding="utf-8")
    kb.sync()
    with Session(engine) as session:
        assert list_learned(session=session) == []


def test_the_very_words_staff_taught_are_answered_with_their_entry(shop):
    """A message staff approved with an entry is answered with it when it comes again, whatever
    the score or a rule would make of it; other words are still the gate's to judge."""
    from bot.drafting.calibration import shop_gate
    from bot.drafting.plan import plan_reply

    _, engine, open_kb = shop
    kb = open_kb()
    target = _entry_id(kb, FREE_SHIPPING)

    def planned(text):  # type: ignore[no-untyped-def]
        return plan_reply(text, history=[], search=kb.search, gate=shop_gate(kb), lexical=kb.lexical)

    assert planned(ODD).handoff
    with Session(engine) as session:
        learn(session=session, knowledge=kb, text=ODD, entry_id=target)
    again = planned(ODD)
    assert not again.handoff and again.sources[0].id == target
    assert "员工确认过" in again.answered[0].decision.reason
    assert planned("兔子软糖怎么弄").answered == [] or planned("兔子软糖怎么弄").answered[0].decision.confidence < 1.0
