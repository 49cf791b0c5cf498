"""A greeting is no gap in the FAQ: it is handed off (nothing to answer yet) but never listed in
/gaps or `dianxiaoer gaps`, and the draft greets back instead of promising a colleague will check.
A customer who sends one question in pieces (在吗 / 龙井 / 怎么泡) has the pieces read together."""

import pytest
from sqlmodel import Session

from bot.drafting.assistant import Assistant
from bot.memory import crud
from bot.memory.db import init_db, make_engine
from bot.memory.gaps import GREETING_RULE, is_gap
from bot.policy.universal import UNIVERSAL


@pytest.fixture
def assistant(sample_shop, tmp_path):
    settings = sample_shop.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'memory.db'}"})
    engine = make_engine(settings)
    init_db(engine)
    yield Assistant(settings, knowledge=sample_shop.knowledge_base(), engine=engine)
    engine.dispose()


def unanswered(assistant):
    with Session(assistant.engine) as session:
        return [q.text for q in crud.list_unanswered(session=session)]


def test_the_gap_rule_names_the_policy_greeting_rule():
    assert GREETING_RULE in {rule.id for rule in UNIVERSAL}
    assert not is_gap(GREETING_RULE) and is_gap(None) and is_gap("price")


def test_a_greeting_is_handed_off_but_not_a_gap(assistant):
    for text in ("在吗", "亲 你好", "在吗？？"):
        result = assistant.ask(text, customer="C001", channel="wechat")
        assert result.handoff and result.rule == GREETING_RULE
    assert unanswered(assistant) == []


def test_a_greeting_is_greeted_back(assistant):
    result = assistant.ask("在吗", customer="王芳", channel="wechat")
    assert result.reply.endswith("请问有什么可以帮您？") and "核实" not in result.reply


def test_an_unanswerable_question_is_still_a_gap(assistant):
    result = assistant.ask("你们卖咖啡豆吗", customer="C001", channel="wechat")
    assert result.handoff and result.rule != GREETING_RULE
    assert unanswered(assistant) == ["你们卖咖啡豆吗"]


def test_a_question_sent_in_pieces_is_read_together(assistant):
    for text in ("在吗", "白茶"):
        assistant.ask(text, customer="C007", channel="wechat")
    result = assistant.ask("怎么泡", customer="C007", channel="wechat")
    # Alone, 「怎么泡」 reads as the 龙井 entry; with 白茶 before it, the 白茶 entry says how.
    assert not result.handoff and result.sources[0].question == "白茶可以煮着喝吗？"
    assert "在吗" not in unanswered(assistant)


def test_a_customer_named_like_a_superlative_is_greeted_by_their_name(assistant):
    # The reply's check leaves the name alone, as a push's does: no 「很好的时光，您好」.
    greeted = assistant.ask("在吗", customer="最好的时光", channel="wechat")
    assert greeted.reply.startswith("最好的时光，您好")
    answered = assistant.ask("龙井怎么泡", customer="最好的时光", channel="wechat")
    assert not answered.handoff and answered.reply.startswith("最好的时光")
