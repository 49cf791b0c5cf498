"""Messages in Traditional characters, Cantonese, Taiwanese shop words or with English mixed in
are read in the FAQ's own words; a Traditional-script FAQ matches Simplified questions."""

import pytest

from bot.config import Settings
from bot.drafting.gate import default_gate
from bot.drafting.plan import plan_reply
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.embeddings import E5Embeddings
from bot.knowledge.lexical import tokenize
from bot.knowledge.normalize import normalize_message, to_simplified
from bot.knowledge.topics import topics


@pytest.mark.parametrize(
    "message,normalized",
    [
        ("龍井開封後可以放多久？", "龙井开封后可以放多久？"),
        ("你哋有冇門市？", "你们有没有门店？"),
        ("退款要幾耐先到賬？", "退款要多久先到账？"),
        ("係咪滿99蚊包郵？", "是不是满99元包邮？"),
        ("國慶連假還會出貨嗎？", "国庆假期还会发货吗？"),
        ("我個order仲未發貨，想cancel", "我个订单还未发货，想取消"),
        ("有冇voucher用？", "有没有优惠券用？"),
        ("shipping fee要幾多？", "运费要多少？"),
        ("我成日捱夜，飲白茶啱唔啱？", "我成日熬夜，喝白茶合适不合适？"),
        ("能发sf吗，kf几点下班", "能发顺丰吗，客服几点下班"),
        ("单号SF1029384756到哪了", "单号SF1029384756到哪了"),  # a waybill stays whole
        ("门店附近有parking吗，customer service几点下班", "门店附近有停车吗，客服几点下班"),
    ],
)
def test_messages_are_read_in_simplified_mandarin(message, normalized):
    assert normalize_message(message) == normalized


@pytest.mark.parametrize(
    "message",
    [
        "试饮装怎么申请？", "这个系列有哪些口味", "刚泡好热气腾腾的", "有小程序或者APP吗", "先发货还是先付款",
        "能先寄点样品给领导尝尝吗", "想买学饮杯",
    ],
)
def test_simplified_mandarin_comes_through_unchanged(message):
    assert normalize_message(message) == message


def test_either_script_gives_the_same_tokens_and_topics():
    assert tokenize("龍井保質期") == tokenize("龙井保质期")
    assert topics("可以開發票嗎") == topics("可以开发票吗") == {"invoice"}
    assert to_simplified("茶餅") == "茶饼"


def test_a_traditional_script_faq_answers_simplified_questions(tmp_path):
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "常見問題.md").write_text(
        "# 常見問題\n\n## 可以開發票嗎？\n可以，下單時填寫抬頭和稅號，電子發票會在發貨後三天內寄到郵箱。\n\n"
        "## 多久發貨？\n付款後四十八小時內發貨。\n\n## 支持哪些付款方式？\n支持微信支付和支付寶。\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(Settings(data_dir=tmp_path / "data", knowledge_dir=tmp_path / "knowledge"), embedder=E5Embeddings())
    kb.sync()
    hits = kb.search("能开发票吗", 3)
    assert hits[0].question == "可以開發票嗎？"  # shown as the shop wrote it
    assert hits[0].lexical_rank == 1
    answered = plan_reply("多久发货", history=[], search=kb.search, gate=default_gate(), lexical=kb.lexical)
    assert not answered.handoff and answered.sources[0].question == "多久發貨？"
