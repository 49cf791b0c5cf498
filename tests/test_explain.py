"""`ask --json` says which rule or the model decided; `explain` prints the whole trace."""

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli


@pytest.fixture(scope="module")
def env(tmp_path_factory, sample_shop):
    root = tmp_path_factory.mktemp("explain")
    sample_shop.copy_to(root)
    return root, {"DIANXIAOER_DATA_DIR": str(root / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(root / "knowledge")}


def run(env, *args):
    result = CliRunner().invoke(cli, list(args), env=env[1])
    assert result.exit_code == 0, result.output
    return result.output


def test_ask_json_names_the_rule_of_a_rule_hand_off(env):
    payload = json.loads(run(env, "ask", "在吗？？", "--json"))
    assert payload["handoff"] is True
    assert payload["rule"] == "greeting" and "打招呼" in payload["reason"]


def test_ask_json_rule_is_null_when_the_model_decided(env):
    answered = json.loads(run(env, "ask", "满多少包邮呀", "--json"))
    assert answered["handoff"] is False and answered["rule"] is None
    assert answered["reason"] == "匹配「包邮吗？」"
    handed_off = json.loads(run(env, "ask", "你们卖咖啡豆吗", "--json"))
    assert handed_off["handoff"] is True and handed_off["rule"] is None
    assert "把握不足" in handed_off["reason"]


def test_explain_shows_candidates_signals_the_rule_and_its_span_and_the_threshold(env):
    trace = json.loads(run(env, "explain", "普洱茶饼一饼多少钱啊", "--json"))
    assert trace["handoff"] is True and trace["threshold"] > 0
    part = trace["parts"][0]
    assert 1 <= len(part["candidates"]) <= 5
    assert {"id", "question", "score", "dense", "lexical", "passage", "sentence"} <= set(part["candidates"][0])
    assert {"dense", "coverage", "topic", "sentence", "sentence_margin"} <= set(part["signals"])
    assert part["rule"]["id"] == "price" and part["decided_by"] == "price"
    assert part["rule"]["source"] == "bot.policy.universal"
    start, end = part["rule"]["span"]
    assert part["query"][start:end] == part["rule"]["text"] == "多少钱"
    assert 0.0 <= part["probability"] <= 1.0
    text = run(env, "explain", "普洱茶饼一饼多少钱啊")
    assert "规则 price 命中「多少钱」" in text and "【多少钱】" in text and "门槛" in text


def test_explain_writes_no_draft(env):
    from sqlmodel import Session, select

    from bot.config import Settings
    from bot.memory.db import make_engine
    from bot.memory.models import Draft

    engine = make_engine(Settings(data_dir=env[0] / "data", _env_file=None))
    with Session(engine) as session:
        before = len(session.exec(select(Draft)).all())
    run(env, "explain", "龙井怎么泡")
    with Session(engine) as session:
        assert len(session.exec(select(Draft)).all()) == before


def test_a_bad_shop_rules_file_stops_ask_with_its_file_and_line(tmp_path, sample_shop):
    settings = sample_shop.copy_to(tmp_path)
    (settings.knowledge_dir / "店小二规则.yaml").write_text("facets:\n  - id: x\n    asks: 坏\n    asked: '(('\n", encoding="utf-8")
    env = {"DIANXIAOER_DATA_DIR": str(settings.data_dir), "DIANXIAOER_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    result = CliRunner().invoke(cli, ["ask", "龙井怎么泡", "--json"], env=env)
    assert result.exit_code == 1
    assert "店小二规则.yaml:4:" in result.output and "正则表达式" in result.output
    # The rules file is not FAQ: the sync reads no entry and no error from it.
    from bot.knowledge.sync import scan

    found = scan(settings.knowledge_dir)
    assert not found.errors and all(e.source != "店小二规则.yaml" for e in found.entries.values())
    from bot.policy.loader import use_shop_rules

    use_shop_rules(None)


def test_explain_drops_escape_sequences_from_the_pasted_question(env):
    text = run(env, "explain", "\x1b]0;PWNED\x07包邮吗\x1b[31m")
    assert "包邮吗" in text and "PWNED" not in text
    # click.style's own colours are fine; the pasted OSC title and BEL are not.
    assert "\x1b]" not in text and "\x07" not in text, repr(text)
