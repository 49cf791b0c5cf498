"""Review of push copy and its checks: defects a merchant would hit, each proven here first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from bot.compliance.checker import check_text
from bot.memory import crud
from bot.push.writer import PushWriter

# 11:00 in Shanghai: outside quiet hours.
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
BRIEF = "明前龙井到货，3月20日前下单满200减20。"


@pytest.fixture
def writer(engine, settings):
    return PushWriter(settings, engine=engine)


# 最好 as advice (“better to”) in a service reply is not a superlative claim about a product.


@pytest.mark.parametrize("text", [
    "茶叶开封后最好在阴凉干燥处保存。",
    "您好，最好提前一天预约，我们给您留位置。",
    "绿茶最好用80度左右的水冲泡。",
    "最好不要用沸水直接冲。",
    "这款最好是冷藏保存，口感更稳定。",
])
def test_best_as_advice_is_not_an_absolute_term(text):
    result = check_text(text)
    assert not result.flagged and result.findings == [], [(f.rule, f.span.text) for f in result.findings]
    assert result.rewrite == text


@pytest.mark.parametrize("text", ["本店的龙井是最好的", "最好的龙井在这里", "这款茶最好喝", "全店最好用的茶具", "最好不过的选择"])
def test_best_as_a_claim_is_still_flagged(text):
    assert any(f.category == "absolute" for f in check_text(text, surface="mass").findings)


# A push to everyone reached every follower: it counts against each one's caps.


def _sent_to_everyone(engine, channel, at):
    with Session(engine) as session:
        draft = crud.create_draft(session=session, text="新茶上市", kind="push", channel=channel)
        crud.decide_draft(session=session, draft_id=draft.id, status="approved", by="店主")
        crud.mark_sent(session=session, draft_id=draft.id, now=at)
        session.commit()


def _member(engine, ref, tag):
    with Session(engine) as session:
        person = crud.create_customer(session=session, display_name="王芳", tags=[tag])
        person.ref = ref
        session.add(person)
        session.commit()


def test_articles_sent_to_everyone_count_against_a_segment_members_monthly_cap(engine, writer):
    _member(engine, "C001", "龙井爱好者")
    for day in (2, 4, 6, 8):  # four 群发 this month, each to every follower
        _sent_to_everyone(engine, "wechat_mass_service", NOW.replace(day=day))
    result = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment="龙井爱好者", now=NOW)
    assert result.drafts == [] and [r.customer for r in result.refused] == ["C001"]
    assert "4" in result.refused[0].reason


def test_a_subscription_account_sends_once_a_day_whoever_the_first_send_went_to(engine, writer):
    from bot.compliance.push_policy import push_decision

    _member(engine, "C001", "龙井爱好者")
    _sent_to_everyone(engine, "wechat_mass_subscription", NOW - timedelta(hours=1))
    with Session(engine) as session:
        person = crud.find_customer(session=session, ref="C001")
        decision = push_decision(session=session, customer=person, channel="wechat_mass_subscription",
                                 settings=writer.settings, now=NOW)
    assert not decision.allowed and "今天已发送" in decision.reason


# A customer's name is theirs: the checker's rewrite must not turn 最好的时光 into 很好的时光.


@pytest.mark.parametrize("name", ["最好的时光", "冠军妈妈", "极品茶友"])
def test_a_customers_name_is_greeted_as_written(engine, writer, name):
    with Session(engine) as session:
        person = crud.create_customer(session=session, display_name=name, tags=["龙井爱好者"])
        person.ref = "C001"
        conversation = crud.start_conversation(session=session, customer_id=person.id, channel="wechat",
                                                now=NOW - timedelta(hours=2))
        crud.add_message(session=session, conversation_id=conversation.id, role="customer", text="龙井到了吗？",
                         now=NOW - timedelta(hours=2))
        session.commit()
    result = writer.draft(channel="wechat", fmt="service", brief="明前龙井到货，3月20日前可以来店里试饮。",
                          customer_ref="C001", now=NOW)
    [d] = result.drafts
    assert d.text.startswith(f"{name}，您好"), d.text
    assert d.dropped == [] and not d.changed


# The time a refusal promises must be a time the push is allowed.

SHANGHAI = timezone(timedelta(hours=8))


def test_a_dm_refused_for_its_daily_cap_late_at_night_is_promised_a_time_it_may_go():
    from bot.compliance.frequency import check_push

    wrote = datetime(2026, 12, 8, 22, 50, tzinfo=SHANGHAI)  # a live chat at night: replies may go
    sent = [datetime(2026, 12, 8, 22, 55, tzinfo=SHANGHAI)]  # …and today's one DM went

    def decide(now):
        return check_push(channel="weibo_dm", now=now, previous_sends=sent, last_customer_message_at=wrote,
                          opted_out=False)

    refused = decide(datetime(2026, 12, 8, 23, 30, tzinfo=SHANGHAI))
    assert not refused.allowed
    # At midnight the chat has been quiet for 70 minutes: that is a night push, so 08:00.
    assert refused.next_allowed_at == datetime(2026, 12, 9, 8, 0, tzinfo=SHANGHAI)
    assert decide(refused.next_allowed_at).allowed


# A spreadsheet lists tags the way Chinese is written: 金卡会员、龙井爱好者.


def test_tags_listed_with_chinese_separators_are_separate_tags(engine, writer, tmp_path):
    from bot.memory.customers import import_customers

    path = tmp_path / "customers.csv"
    path.write_text(
        "编号,姓名,标签\n"
        "C001,王芳,金卡会员、龙井爱好者\n"
        'C002,李哥,"普洱爱好者，白茶爱好者"\n'
        "C003,张姐,龙井爱好者；银卡会员\n",
        encoding="utf-8",
    )
    with Session(engine) as session:
        report = import_customers(session=session, path=path)
        assert report.errors == []
        tags = {c.ref: c.tags for c in crud.list_customers(session=session)}
    assert tags == {"C001": ["金卡会员", "龙井爱好者"], "C002": ["普洱爱好者", "白茶爱好者"],
                    "C003": ["龙井爱好者", "银卡会员"]}
    result = writer.draft(channel="wechat", fmt="article", brief=BRIEF, segment="龙井爱好者", now=NOW)
    assert result.drafts[0].recipients == 2


# A quantity or a date is not a landline number: cutting it from a reply changes what it says.


@pytest.mark.parametrize("text", ["您好，这批茶一共2500000克，够您店里用。", "您好，今年共接待游客1500000人次。",
                                  "您好，预售截止20260320"])
def test_a_quantity_or_a_date_is_not_read_as_a_phone_number(text):
    result = check_text(text)
    assert not any(f.category == "contact" or f.rule == "channel.unsolicited_link" for f in result.findings), \
        [(f.rule, f.span.text) for f in result.findings]
    assert not result.flagged and result.rewrite == text


def test_a_landline_at_the_end_is_still_a_phone_number():
    assert [f.span.text for f in check_text("请拨打88886666预约", surface="mass").findings] == ["88886666"]


# What comes from the customer list is printed as text, never as terminal escape sequences.


def test_push_prints_a_customer_reference_without_its_escape_sequences(tmp_path):
    from click.testing import CliRunner

    from bot.cli import cli

    path = tmp_path / "customers.csv"
    path.write_text("编号,姓名,退订微博\nC001\x1b]0;hacked\x07\x1b[2J,王芳,是\n", encoding="utf-8")
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(cli, ["customers", "import", str(path)], env=env).exit_code == 0
    ref = "C001\x1b]0;hacked\x07\x1b[2J"
    result = runner.invoke(cli, ["push", "--channel", "weibo", "--format", "dm", "--customer", ref,
                                 "--brief", BRIEF], env=env)
    assert result.exit_code == 0, result.output
    assert "不发给 C001" in result.output and "\x1b" not in result.output and "\x07" not in result.output


# Answering 「这两款有什么区别？」 is no superlative claim.


@pytest.mark.parametrize("text", ["您好，这两款最大的区别是产地不同。", "这两款最大的不同在于工艺。",
                                  "最好的办法是先买小样试试。"])
def test_comparing_two_products_or_advising_is_not_an_absolute_term(text):
    result = check_text(text)
    assert result.findings == [] and result.rewrite == text, [(f.rule, f.span.text) for f in result.findings]


@pytest.mark.parametrize("text", ["最大的优惠在本店", "最好的龙井在本店", "最好的选择就是我们的龙井"])
def test_a_best_or_biggest_offer_is_still_flagged(text):
    assert any(f.category == "absolute" for f in check_text(text, surface="mass").findings)


def test_a_blank_name_in_a_later_import_keeps_the_name_already_stored(engine, tmp_path):
    from bot.memory.customers import import_customers
    from bot.memory.salutation import salutation_name

    first, later = tmp_path / "v1.csv", tmp_path / "v2.csv"
    first.write_text("编号,姓名,微信,标签\nC001,王芳,wx_wang,金卡会员\n", encoding="utf-8")
    later.write_text("编号,姓名,微信,标签\nC001,,wx_wang,银卡会员\nC002,,wx_li,\n", encoding="utf-8")
    with Session(engine) as session:
        import_customers(session=session, path=first)
        report = import_customers(session=session, path=later)
        people = {c.ref: c for c in crud.list_customers(session=session)}
        assert (report.added, report.updated) == (1, 1)
        assert people["C001"].display_name == "王芳" and people["C001"].tags == ["银卡会员"]
        assert salutation_name(people["C001"]) == "王芳"
        assert salutation_name(people["C002"]) is None  # still no name to greet a new one by
