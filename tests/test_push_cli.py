"""The whole path on the sample shop: import customers, a customer writes on WeChat, `ask --json`
carries its check, `push` drafts for those the caps allow and cites the FAQ's tier benefits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.config import Settings
from bot.memory.db import make_engine
from bot.memory.models import Conversation, Draft

SHOP = Path(__file__).resolve().parent.parent / "knowledge"
CUSTOMERS = (
    "编号,姓名,微信,微博,标签,退订微信,退订微博,备注\n"
    "C001,王芳,wx_wang,,金卡会员|龙井爱好者,否,否,\n"
    "C002,李哥,wx_li,,金卡会员,是,否,\n"
    "C003,赵姐,wx_zhao,,金卡会员,否,否,\n"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("push")
    shutil.copytree(SHOP, root / "knowledge")
    env = {"DIANXIAOER_DATA_DIR": str(root / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(root / "knowledge"),
           # Quiet hours off, so the test does not depend on the hour it runs at.
           "DIANXIAOER_QUIET_HOURS_START": "0", "DIANXIAOER_QUIET_HOURS_END": "0"}
    assert CliRunner().invoke(cli, ["index"], env=env).exit_code == 0
    (root / "customers.csv").write_text(CUSTOMERS, encoding="utf-8-sig")
    imported = CliRunner().invoke(cli, ["customers", "import", str(root / "customers.csv")], env=env)
    assert imported.exit_code == 0, imported.output
    return root, env


def run(env, *args):
    result = CliRunner().invoke(cli, list(args), env=env[1])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ask_records_the_channel_and_reports_its_check(env):
    payload = json.loads(run(env, "ask", "金卡有什么用", "--customer", "C001", "--channel", "wechat", "--json"))
    assert payload["check"]["flagged"] is False and "findings" in payload["check"]
    with Session(make_engine(Settings(data_dir=env[0] / "data", _env_file=None))) as session:
        draft = session.get(Draft, payload["draft_id"])
        conversation = session.get(Conversation, draft.conversation_id)
        assert conversation.channel == "wechat" and draft.customer_id is not None


def test_push_service_to_a_segment_drafts_only_for_who_may_receive_it(env):
    run(env, "ask", "龙井怎么泡", "--customer", "C001", "--channel", "wechat", "--json")
    run(env, "ask", "龙井怎么泡", "--customer", "C003", "--channel", "cli", "--json")
    payload = json.loads(run(env, "push", "--channel", "wechat", "--format", "service", "--segment", "金卡会员",
                             "--brief", "明前龙井到货了，3月20日前可以来店里试饮。", "--variants", "2", "--json"))
    assert {d["customer"] for d in payload["drafts"]} == {"C001"} and len(payload["drafts"]) == 2
    refused = {r["customer"]: r for r in payload["refused"]}
    assert set(refused) == {"C002", "C003"}  # opted out; wrote only in the terminal, not on WeChat
    first = payload["drafts"][0]
    assert first["text"].startswith("王芳，您好") and first["check"]["flagged"] is False
    assert first["sources"] and first["sources"][0]["question"] == "会员有什么权益？"
    assert "积分加倍" in first["text"]
    with Session(make_engine(Settings(data_dir=env[0] / "data", _env_file=None))) as session:
        stored = session.exec(select(Draft).where(Draft.kind == "push")).all()
        assert {d.id for d in stored} >= {d["draft_id"] for d in payload["drafts"]}


def test_push_article_from_a_pushy_brief_prints_compliant_copy(env):
    out = run(env, "push", "--channel", "wechat", "--format", "article",
              "--brief", "明前龙井全网最低价，转发集赞送茶饼，3月20日前满200减20")
    assert "标题：" in out and "已去掉「全网最低价」" in out
    assert "满200减20" in out and "集赞" not in out.split("✓")[0]


def test_a_phrase_two_rules_caught_is_one_line_with_both_reasons():
    from dataclasses import replace

    from bot.cli.push_cmds import _render_draft
    from bot.compliance.checker import check_text
    from bot.push.writer import PushDraft, by_phrase

    found = check_text("全网最低价，错过再等一年！", channel="wechat").findings
    one = found[0]
    twice = [one, replace(one, rule="another.rule", reason="另一条理由", basis="另一条依据")]
    assert by_phrase(twice) == [(one.span.text, twice)]
    draft = PushDraft(text="龙井到货了。", title=None, digest=None, channel="wechat", format="service",
                      customer="C001", check=check_text("龙井到货了。", channel="wechat"), dropped=twice,
                      sources=[], changed=True)
    lines = [line for line in _render_draft(1, draft) if f"已去掉「{one.span.text}」" in line]
    assert len(lines) == 1 and one.reason in lines[0] and "另一条理由（另一条依据）" in lines[0]
