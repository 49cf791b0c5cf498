"""Push caps read from memory: opt-outs, what was already sent, when the customer last wrote."""

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from bot.cli import cli
from bot.compliance.push_policy import push_decision
from bot.config import Settings
from bot.memory import crud

NOON = datetime(2026, 11, 10, 4, tzinfo=UTC)  # 12:00 in Shanghai




def send(session, customer, channel, at):
    draft = crud.create_draft(session=session, text="新茶上市", kind="push", channel=channel, customer_id=customer.id)
    crud.decide_draft(session=session, draft_id=draft.id, status="approved", by="店主")
    crud.decide_draft(session=session, draft_id=draft.id, status="sent", by="店主", now=at)


def decide(session, customer, channel, now=NOON):
    return push_decision(session=session, customer=customer, channel=channel, settings=Settings(), now=now)


def test_service_account_allows_four_a_month_per_follower(session):
    wang = crud.create_customer(session=session, display_name="王姐")
    for day in (1, 3, 5):
        send(session, wang, "wechat_mass_service", NOON.replace(day=day))
    assert decide(session, wang, "wechat_mass_service").allowed
    send(session, wang, "wechat_mass_service", NOON.replace(day=7))
    refused = decide(session, wang, "wechat_mass_service")
    assert not refused.allowed and "4" in refused.reason
    # the new month starts at midnight, inside quiet hours, so 08:00 Shanghai on 12-01
    assert refused.next_allowed_at.astimezone(UTC) == datetime(2026, 12, 1, 0, tzinfo=UTC)


def test_customer_service_messages_need_a_recent_customer_message(session):
    li = crud.create_customer(session=session, display_name="李哥")
    assert not decide(session, li, "wechat_customer_service").allowed
    conversation = crud.current_conversation(session=session, customer_id=li.id, channel="wechat")
    crud.add_message(session=session, conversation_id=conversation.id, role="customer", text="在吗", now=NOON - timedelta(hours=47))
    assert decide(session, li, "wechat_customer_service").allowed
    assert not decide(session, li, "wechat_customer_service", now=NOON + timedelta(hours=2)).allowed


def test_opted_out_customers_never(session):
    zhao = crud.create_customer(session=session, display_name="赵姐")
    crud.set_opt_out(session=session, customer=zhao, channel="wechat")
    decision = decide(session, zhao, "wechat_mass_service")
    assert not decision.allowed and decision.next_allowed_at is None
    assert decide(session, zhao, "weibo_post").allowed


def test_cli_decide_and_can_push(tmp_path):
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path)}
    from bot.memory.db import init_db, make_engine

    engine = make_engine(Settings(data_dir=tmp_path))
    init_db(engine)
    with Session(engine) as s:
        customer = crud.create_customer(session=s, display_name="王姐", wechat_id="wx_wang")
        draft = crud.create_draft(session=s, text="满 99 元包邮。", customer_id=customer.id)
        s.commit()
        draft_id = draft.id
    runner = CliRunner()
    assert "已修改" in runner.invoke(cli, ["decide", str(draft_id), "edit", "--text", "满 99 包邮哦"], env=env).output
    refused = runner.invoke(cli, ["decide", str(draft_id), "approve"], env=env)
    assert refused.exit_code == 1 and "不能改为已通过" in refused.output
    import json

    answer = json.loads(runner.invoke(cli, ["can-push", "wx_wang", "--channel", "wechat_customer_service", "--json"], env=env).output)
    assert answer["allowed"] is False and answer["reason"]
    missing = runner.invoke(cli, ["can-push", "nobody", "--channel", "weibo_post"], env=env)
    assert missing.exit_code == 1 and "找不到客户" in missing.output
