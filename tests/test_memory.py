"""Memory: crud round trips, draft decisions, restarts, and clustering of unanswered questions."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from bot.config import Settings
from bot.errors import DianxiaoerError
from bot.memory import crud
from bot.memory.db import init_db, make_engine
from bot.memory.gaps import cluster_questions
from bot.memory.models import Draft




def test_customer_is_found_by_id_wechat_weibo_or_name(session):
    wang = crud.create_customer(session=session, display_name="王姐", wechat_id="wx_wang", tags=["金卡", "普洱爱好者"])
    crud.create_customer(session=session, display_name="李哥", weibo_id="wb_li")
    for ref in (str(wang.id), "wx_wang", "王姐"):
        assert crud.find_customer(session=session, ref=ref).id == wang.id
    assert crud.find_customer(session=session, ref="wb_li").display_name == "李哥"
    assert crud.find_customer(session=session, ref="nobody") is None
    assert wang.tags == ["金卡", "普洱爱好者"]


def test_conversation_continues_until_a_long_gap(session):
    customer = crud.create_customer(session=session, display_name="王姐")
    t0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
    first = crud.current_conversation(session=session, customer_id=customer.id, channel="wechat", now=t0)
    crud.add_message(session=session, conversation_id=first.id, role="customer", text="龙井怎么泡", now=t0)
    again = crud.current_conversation(session=session, customer_id=customer.id, channel="wechat", now=t0 + timedelta(hours=1))
    later = crud.current_conversation(session=session, customer_id=customer.id, channel="wechat", now=t0 + timedelta(days=2))
    assert again.id == first.id and later.id != first.id
    anonymous = crud.current_conversation(session=session, customer_id=None, channel="cli")
    assert crud.current_conversation(session=session, customer_id=None, channel="cli").id != anonymous.id


def test_recent_messages_are_the_last_n_oldest_first(session):
    conversation = crud.current_conversation(session=session, customer_id=None, channel="cli")
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(5):
        crud.add_message(session=session, conversation_id=conversation.id, role="customer", text=f"m{n}", now=t0 + timedelta(minutes=n))
    assert [m.text for m in crud.recent_messages(session=session, conversation_id=conversation.id, limit=3)] == ["m2", "m3", "m4"]


def make_draft(session) -> Draft:
    return crud.create_draft(session=session, text="满 99 元包邮。", cited_entry_ids=["e1"], confidence=0.9)


@pytest.mark.parametrize(
    "steps,final",
    [
        ([("approved", None), ("sent", None)], "sent"),
        ([("edited", "满 99 元包邮哦～"), ("sent", None)], "sent"),
        ([("rejected", None)], "rejected"),
    ],
)
def test_draft_decisions(session, steps, final):
    draft = make_draft(session)
    for status, text in steps:
        crud.decide_draft(session=session, draft_id=draft.id, status=status, by="客服小李", edited_text=text)
    assert draft.status == final and draft.decided_by == "客服小李"
    if steps[0][0] == "edited":
        assert draft.final_text == "满 99 元包邮哦～"
    if final == "sent":
        assert draft.sent_at is not None


@pytest.mark.parametrize(
    "steps,message",
    [
        ([("sent", None)], "不能改为已发送"),
        ([("rejected", None), ("approved", None)], "已拒绝"),
        ([("edited", "  ")], "修改后的文字"),
        ([("archived", None)], "未知状态"),
    ],
)
def test_impossible_draft_decisions_are_refused(session, steps, message):
    draft = make_draft(session)
    with pytest.raises(DianxiaoerError, match=message):
        for status, text in steps:
            crud.decide_draft(session=session, draft_id=draft.id, status=status, by="x", edited_text=text)


def test_sent_pushes_and_last_customer_message(session):
    customer = crud.create_customer(session=session, display_name="王姐")
    t0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
    for days in (0, 3):
        push = crud.create_draft(session=session, text="新茶上市", kind="push", channel="wechat_mass_service", customer_id=customer.id)
        crud.decide_draft(session=session, draft_id=push.id, status="approved", by="店主")
        crud.decide_draft(session=session, draft_id=push.id, status="sent", by="店主", now=t0 + timedelta(days=days))
    assert crud.sent_pushes(session=session, customer_id=customer.id, channel="wechat_mass_service", since=t0) == [
        t0,
        t0 + timedelta(days=3),
    ]
    conversation = crud.current_conversation(session=session, customer_id=customer.id, channel="wechat")
    crud.add_message(session=session, conversation_id=conversation.id, role="customer", text="在吗", now=t0)
    crud.add_message(session=session, conversation_id=conversation.id, role="assistant", text="在的", now=t0 + timedelta(minutes=1))
    assert crud.last_customer_message_at(session=session, customer_id=customer.id) == t0


def test_memory_survives_a_restart(tmp_path):
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings)
    init_db(engine)
    with Session(engine) as session:
        customer = crud.create_customer(session=session, display_name="王姐", wechat_id="wx_wang")
        crud.add_unanswered(session=session, text="龙井多少钱", customer_id=customer.id)
        session.commit()
    engine.dispose()
    reopened = make_engine(settings)
    init_db(reopened)
    with Session(reopened) as session:
        assert crud.find_customer(session=session, ref="wx_wang").display_name == "王姐"
        assert [q.text for q in crud.list_unanswered(session=session)] == ["龙井多少钱"]
    assert (tmp_path / "dianxiaoer.db").exists()


def test_gaps_cluster_paraphrases_most_frequent_first():
    texts = ["龙井多少钱一斤", "有红茶吗", "龙井多少钱", "明前龙井什么价格", "你们卖红茶吗", "能开专票吗"]
    from bot.knowledge.embeddings import E5Embeddings

    clusters = cluster_questions(texts, E5Embeddings().encode_queries)
    assert clusters[0].count >= 2 and "龙井" in clusters[0].representative
    assert sum(c.count for c in clusters) == len(texts)
    assert any(set(c.examples) == {"有红茶吗", "你们卖红茶吗"} for c in clusters)


def test_gaps_without_embedder_use_character_overlap():
    clusters = cluster_questions(["龙井多少钱一斤", "龙井多少钱", "有红茶吗"])
    assert [c.count for c in clusters] == [2, 1]
