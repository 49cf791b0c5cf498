"""A push to a whole segment (article, moments, Weibo post: one text, no customer of its own):
members who opted out or are over their cap are refused with reason and time, the others are
recorded as the draft's recipients, and marking it sent counts against every recipient's caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.compliance.frequency import SERVICE_PER_MONTH
from bot.config import Settings
from bot.memory import crud
from bot.memory.models import DraftRecipient
from bot.push.writer import PushWriter

# 11:00 in Shanghai on a Tuesday: outside quiet hours, early in the month.
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
# The month's cap is spent: next allowed when April begins, after the night (08:00 Shanghai).
APRIL = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
BRIEF = "明前龙井到货，3月20日前下单满200减20。"
SEGMENT = "龙井爱好者"
MASS = "wechat_mass_service"  # what a 公众号 article counts against: 4 a natural month per follower


@pytest.fixture
def writer(engine, settings):
    return PushWriter(settings, engine=engine)


def add_customer(session, ref, name, tags=(SEGMENT,), *, opted_out=False):
    person = crud.create_customer(session=session, display_name=name, tags=tags)
    person.ref = ref
    person.opted_out_wechat = opted_out
    session.add(person)
    session.flush()
    return person.id


def sent_earlier(session, customer_ids, at, *, segment=True):
    """A push on MASS that went out at `at`: to a segment (recipients) or to one customer."""
    if segment:
        draft = crud.create_draft(session=session, text="上月新茶", kind="push", channel=MASS)
        crud.add_recipients(session=session, draft_id=draft.id, customer_ids=customer_ids)
    else:
        [one] = customer_ids
        draft = crud.create_draft(session=session, text="上月新茶", kind="push", channel=MASS, customer_id=one)
    crud.decide_draft(session=session, draft_id=draft.id, status="approved", by="店主")
    crud.mark_sent(session=session, draft_id=draft.id, now=at)
    return draft.id


@pytest.fixture
def shop(engine):
    """C001 has had nothing, C002 opted out, C003 has had 4 sends this month (its cap), C004 3;
    C005 is not in the segment."""
    with Session(engine) as session:
        ids = {
            "C001": add_customer(session, "C001", "王芳"),
            "C002": add_customer(session, "C002", "李哥", opted_out=True),
            "C003": add_customer(session, "C003", "张姐"),
            "C004": add_customer(session, "C004", "赵先生"),
            "C005": add_customer(session, "C005", "孙女士", tags=("普洱爱好者",)),
        }
        # Counted whichever way they went: for C003 alone, or to segments C003 and C004 were in.
        sent_earlier(session, [ids["C003"]], NOW.replace(day=2), segment=False)
        for day in (3, 5, 7):
            sent_earlier(session, [ids["C003"], ids["C004"]], NOW.replace(day=day))
        session.commit()
    return ids


def recipients_of(engine, draft_id):
    with Session(engine) as session:
        rows = session.exec(select(DraftRecipient).where(DraftRecipient.draft_id == draft_id)).all()
        return {(r.customer_id, r.status) for r in rows}


def test_opted_out_and_over_cap_members_are_refused_the_rest_are_recipients(engine, writer, shop):
    result = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment=SEGMENT, variants=2, now=NOW)
    refused = {r.customer: r for r in result.refused}
    assert set(refused) == {"C002", "C003"}
    assert "退订" in refused["C002"].reason and refused["C002"].next_allowed_at is None
    assert f"{SERVICE_PER_MONTH}" in refused["C003"].reason and refused["C003"].next_allowed_at == APRIL
    assert len(result.drafts) == 2 and all(d.customer is None for d in result.drafts)
    for d in result.drafts:
        assert d.recipients == 2
        assert recipients_of(engine, d.draft_id) == {(shop["C001"], "pending"), (shop["C004"], "pending")}
    payload = result.as_json()
    assert [d["recipients"] for d in payload["drafts"]] == [2, 2]
    assert {r["customer"]: r["next_allowed_at"] for r in payload["refused"]} == {
        "C002": None, "C003": "2026-04-01T08:00:00+08:00"}


def test_a_pending_segment_draft_counts_for_no_one(engine, writer, shop):
    writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment=SEGMENT, now=NOW)
    with Session(engine) as session:
        assert crud.sent_pushes(session=session, customer_id=shop["C001"], channel=MASS, since=NOW.replace(day=1)) == []
    again = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment=SEGMENT, now=NOW)
    assert {r.customer for r in again.refused} == {"C002", "C003"} and again.drafts[0].recipients == 2


def test_marking_a_segment_draft_sent_counts_for_every_recipient(engine, writer, shop):
    first = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment=SEGMENT, variants=2, now=NOW)
    chosen, other = first.drafts
    sent_at = NOW + timedelta(hours=1)
    with Session(engine) as session:
        crud.decide_draft(session=session, draft_id=chosen.draft_id, status="approved", by="店主")
        crud.mark_sent(session=session, draft_id=chosen.draft_id, now=sent_at)
        session.commit()
        month = NOW.replace(day=1)
        assert crud.sent_pushes(session=session, customer_id=shop["C001"], channel=MASS, since=month) == [sent_at]
        assert len(crud.sent_pushes(session=session, customer_id=shop["C004"], channel=MASS, since=month)) == 4
        # Refused members, and those outside the segment, received nothing.
        for ref in ("C002", "C005"):
            assert crud.sent_pushes(session=session, customer_id=shop[ref], channel=MASS, since=month) == []
    assert recipients_of(engine, chosen.draft_id) == {(shop["C001"], "sent"), (shop["C004"], "sent")}
    assert recipients_of(engine, other.draft_id) == {(shop["C001"], "pending"), (shop["C004"], "pending")}

    # The next push to the segment in the same month: C004 has now reached the cap too.
    later = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment=SEGMENT, now=NOW + timedelta(days=1))
    refused = {r.customer: r for r in later.refused}
    assert set(refused) == {"C002", "C003", "C004"}
    assert refused["C004"].next_allowed_at == APRIL and f"{SERVICE_PER_MONTH}" in refused["C004"].reason
    [fresh] = later.drafts
    assert fresh.recipients == 1 and recipients_of(engine, fresh.draft_id) == {(shop["C001"], "pending")}

    # A new month: everyone but the opted-out is a recipient again.
    april = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment=SEGMENT,
                         now=datetime(2026, 4, 2, 3, 0, tzinfo=UTC))
    assert [r.customer for r in april.refused] == ["C002"] and april.drafts[0].recipients == 3


def test_one_segment_caps_do_not_leak_into_other_channels(engine, writer, shop):
    """A sent article counts against 服务号群发, not against a Weibo post to the same members."""
    [article] = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment=SEGMENT, now=NOW).drafts
    with Session(engine) as session:
        crud.decide_draft(session=session, draft_id=article.draft_id, status="approved", by="店主")
        crud.mark_sent(session=session, draft_id=article.draft_id, now=NOW)
        session.commit()
    post = writer.draft(channel="weibo", fmt="post", brief=BRIEF, segment=SEGMENT, now=NOW + timedelta(hours=1))
    assert post.refused == [] and post.drafts[0].recipients == 4  # C002 opted out of WeChat only


def test_a_draft_for_one_customer_records_no_recipients(engine, writer, shop):
    result = writer.draft(channel="wechat", fmt="article", brief=BRIEF, customer_ref="C001", now=NOW)
    [d] = result.drafts
    assert d.customer == "C001" and d.recipients == 1 and recipients_of(engine, d.draft_id) == set()
    everyone = writer.draft(channel="weibo", fmt="post", brief=BRIEF, now=NOW)
    assert everyone.drafts[0].recipients is None and recipients_of(engine, everyone.drafts[0].draft_id) == set()


# crud, on SQLite and PostgreSQL


def test_recipients_are_recorded_once_and_counted_once(session):
    wang = crud.create_customer(session=session, display_name="王姐")
    li = crud.create_customer(session=session, display_name="李哥")
    draft = crud.create_draft(session=session, text="新茶上市", kind="push", channel=MASS)
    assert crud.add_recipients(session=session, draft_id=draft.id, customer_ids=[wang.id, li.id, wang.id]) == 2
    assert crud.add_recipients(session=session, draft_id=draft.id, customer_ids=[li.id]) == 2
    assert crud.recipient_ids(session=session, draft_id=draft.id) == sorted([wang.id, li.id])
    # A draft that names the customer and also lists them is still one send.
    own = crud.create_draft(session=session, text="王姐专享", kind="push", channel=MASS, customer_id=wang.id)
    crud.add_recipients(session=session, draft_id=own.id, customer_ids=[wang.id])
    for d, at in ((draft, NOW), (own, NOW + timedelta(hours=1))):
        crud.decide_draft(session=session, draft_id=d.id, status="approved", by="店主")
        crud.mark_sent(session=session, draft_id=d.id, now=at)
    session.commit()
    assert crud.sent_pushes(session=session, customer_id=wang.id, channel=MASS, since=NOW - timedelta(days=1)) == [
        NOW, NOW + timedelta(hours=1)]
    assert crud.sent_pushes(session=session, customer_id=li.id, channel=MASS, since=NOW - timedelta(days=1)) == [NOW]
    assert crud.sent_pushes(session=session, customer_id=li.id, channel="weibo_post", since=NOW - timedelta(days=1)) == []


def test_a_rejected_segment_draft_counts_for_no_one(session):
    wang = crud.create_customer(session=session, display_name="王姐")
    draft = crud.create_draft(session=session, text="新茶上市", kind="push", channel=MASS)
    crud.add_recipients(session=session, draft_id=draft.id, customer_ids=[wang.id])
    crud.decide_draft(session=session, draft_id=draft.id, status="rejected", by="店主", now=NOW)
    session.commit()
    assert crud.sent_pushes(session=session, customer_id=wang.id, channel=MASS, since=NOW - timedelta(days=1)) == []


# The CLI, on a database made by the migrations


def test_decide_sent_reports_and_counts_the_recipients(tmp_path):
    from bot.memory.db import init_db, make_engine

    settings = Settings(data_dir=tmp_path, _env_file=None)
    engine = make_engine(settings)
    init_db(engine)
    with Session(engine) as session:
        ids = [add_customer(session, "C001", "王芳"), add_customer(session, "C002", "李哥"),
               add_customer(session, "C003", "张姐", opted_out=True)]
        session.commit()
    result = PushWriter(settings, engine=engine).draft(
        channel="wechat", fmt="moments", brief=BRIEF, segment=SEGMENT, now=NOW)
    [d] = result.drafts
    assert d.recipients == 2 and [r.customer for r in result.refused] == ["C003"]
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    approved = runner.invoke(cli, ["decide", str(d.draft_id), "approve"], env=env)
    assert approved.exit_code == 0, approved.output
    sent = runner.invoke(cli, ["decide", str(d.draft_id), "sent"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "已发送" in sent.output and "已计入 2 位收件人的发送次数" in sent.output
    with Session(engine) as session:
        counted = [len(crud.sent_pushes(session=session, customer_id=c, channel="wechat_moments",
                                        since=NOW)) for c in ids]
    assert counted == [1, 1, 0]
    again = runner.invoke(cli, ["decide", str(d.draft_id), "sent"], env=env)
    assert again.exit_code == 1 and "不能改为已发送" in again.output
    engine.dispose()
