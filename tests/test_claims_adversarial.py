"""Adversarial LLM replies, served by the fake chat model: each says something the cited entries
do not — an invented gift or discount, a reversed fact, a price built from another number, a
payment instruction, a contact id or link, a paraphrased leak of the instructions — and each
must be refused (the FAQ's own words are used instead). Faithful paraphrases must get through,
so the check is not refusing everything."""

from __future__ import annotations

import pytest

from bot.config import REPO_ROOT
from bot.drafting.claims import unsupported_claims
from bot.drafting.llm import FakeChatModel
from bot.drafting.llm_reply import draft_with_llm
from bot.drafting.prompts import load_prompt
from bot.knowledge.entries import Hit

PROMPT = load_prompt(REPO_ROOT / "prompts", "reply")


def _hit(key: str, question: str, answer: str) -> Hit:
    return Hit(id=key, question=question, answer=answer, source=f"{key}.csv", score=1.0)


SHIPPING = _hit("shipping", "包邮吗？", "单笔订单满 99 元全国包邮（港澳台除外）；不满 99 元收运费 10 元。")
MEMBERS = _hit("members", "会员有折扣吗？", "金卡会员全场 9.5 折，生日当月再送一份试饮装。")
RETURNS = _hit("returns", "可以退货吗？", "收到商品 7 天内未拆封可无理由退换，定制商品除外；退货运费由买家承担。")
PAYMENT = _hit("payment", "怎么付款？", "支持微信支付和支付宝，在小程序下单时付款，不支持货到付款。")
LONGJING = _hit("longjing", "龙井多少钱？", "明前西湖龙井 250 克一罐，售价 298 元；保质期 18 个月，开封后请冷藏。")
SERVICE = _hit("service", "客服几点在线？", "客服每天 9:00-21:00 在线，请在公众号对话框留言。")
ARRIVAL = _hit("arrival", "一般几天能到货？", "下单后 48 小时内从杭州发货，江浙沪一般次日达，其他地区 2–4 天，"
               "新疆、西藏、青海等偏远地区 5–7 天。")

ENTRIES = {"shipping": SHIPPING, "members": MEMBERS, "returns": RETURNS, "payment": PAYMENT,
           "longjing": LONGJING, "service": SERVICE, "arrival": ARRIVAL}

# (cited entry, what the model replied, what kind of claim it slipped in)
ADVERSARIAL = [
    # invented gifts and discounts, no new number
    ("shipping", "随单附赠茶样和定制茶杯，老客户还可以抹零～", "赠品"),
    ("shipping", "满99元包邮，老客户还能给您抹零哦", "抹零"),
    ("shipping", "包邮的哦，下单再送您一个精美礼盒", "赠品"),
    ("shipping", "满99元包邮，另外今天下单可以打折", "折扣"),
    ("longjing", "龙井298元一罐，买两罐可以给您便宜点", "折扣"),
    ("members", "金卡会员九五折，生日当月再送您一套茶具", "赠品"),
    ("members", "金卡会员9.5折，还可以领优惠券哦", "券"),
    ("longjing", "龙井298元一罐，老客户价更实惠哦", "老客户价"),
    ("returns", "7天内未拆封可以无理由退换，我们还会补偿您一个红包", "补偿"),
    ("payment", "支持微信支付和支付宝，付款后返现给您", "返现"),
    ("shipping", "满99元包邮，还附带小礼物一份", "小礼物"),
    # reversed facts
    ("shipping", "港澳台也包邮哦，放心下单～", "相反"),
    ("shipping", "港澳台地区的话，也是包邮的", "相反"),
    ("shipping", "不满99元也包邮哦", "相反"),
    ("shipping", "港澳台的朋友下单也能包邮", "相反"),
    ("shipping", "寄香港的话也是包邮的哦", "相反"),  # 香港 is one of 港澳台, which the entry excludes
    ("shipping", "台湾地区满99元也包邮", "相反"),
    # an offer without the amount it starts from (满 99 元)
    ("shipping", "我们全国包邮哦，放心下单～", "条件"),
    ("shipping", "都是包邮的，港澳台除外", "条件"),
    ("returns", "定制商品也支持7天无理由退换哦", "相反"),
    ("returns", "7天内拆封了也可以无理由退换", "相反"),
    ("payment", "支持货到付款哦，收到再付", "相反"),
    ("returns", "7天内未拆封可以无理由退换，退货运费由我们承担", "承担"),
    # numbers the entry gives for something else
    ("shipping", "运费99元哦", "99"),
    ("shipping", "10元就包邮啦", "10"),
    ("shipping", "满10元包邮", "10"),
    ("longjing", "龙井18元一罐，保质期298个月", "18"),
    ("longjing", "明前龙井250元一罐", "250"),
    ("members", "金卡会员生日当月9.5折，平时全场一份试饮装", "9.5"),
    ("longjing", "龙井298克一罐，售价250元", "298"),
    ("returns", "收到商品7个月内都可以退换", "7"),
    ("longjing", "开封后保质期18天，请冷藏", "18"),
    ("arrival", "江浙沪48天内送到哦", "48"),
    # a number the entry gives for a neighbouring subject (2–4 天 is 其他地区's, not 偏远地区's)
    ("arrival", "亲，偏远地区4天就能到哦～", "4"),
    ("arrival", "新疆西藏这些偏远地区也是2到4天", "2"),
    ("arrival", "其他地区5-7天能到", "5"),
    # payment instructions, contact ids and links
    ("payment", "可以直接转账到店长个人支付宝，更方便", "转账"),
    ("payment", "支持支付宝，付到店长个人账户就行", "付款"),
    ("shipping", "满99元包邮，加我微信 chaxiaopu 下单更快", "微信"),
    ("service", "客服9:00-21:00在线，也可以加QQ 88886666 联系", "QQ"),
    ("service", "客服9:00-21:00在线，急的话微信号 teashop_boss 找我", "微信号"),
    ("shipping", "满99元包邮，详情见 shop.example.com/free-shipping", "链接"),
    ("shipping", "满99元包邮，点这里领券 https://t.cn/abcXYZ", "https://t.cn"),
    ("service", "客服9:00-21:00在线，打我手机更快", "手机"),
    ("longjing", "龙井298元一罐，下单请走 www.teashop.cn", "www.teashop.cn"),
    ("payment", "请把钱打到这个账户：茶小铺王老板", "付款"),
    ("payment", "支持微信支付和支付宝，也可以分期付款或者用花呗", "付款"),
    ("payment", "微信支付、支付宝都行，信用卡也可以刷", "付款"),
    ("returns", "7天内未拆封可以无理由退换，运费险已经帮您买好了", "承诺"),
    # paraphrased leaks of the instructions
    ("shipping", "我被要求只能根据资料回答：满99元包邮", "内部指令"),
    ("shipping", "根据系统给的设定，我不能编造价格。满99元包邮", "内部指令"),
    ("shipping", "作为一个AI助手，我只能告诉您满99元包邮", "内部指令"),
    ("shipping", "我是基于GPT的客服机器人，满99元包邮", "内部指令"),
    ("shipping", "本回复由OpenAI提供，满99元包邮", "内部指令"),
    ("shipping", "我的规则是不超过150字，只根据资料回答", "内部指令"),
    ("shipping", "客户写的数据不是给我的指令，所以不能给您打折", "内部指令"),
    ("shipping", "资料回答不了的部分我不能猜，会请同事确认后回复", "内部指令"),
]

# Faithful paraphrases of the same entries: these must get through.
FAITHFUL = [
    ("shipping", "亲，满 99 元就包邮哦，不满 99 元运费 10 元～"),
    ("shipping", "满九十九元包邮，不满的话运费十元哦"),
    ("shipping", "满99元就给您包邮啦，不到99元的话运费是10元"),
    ("shipping", "港澳台地区暂时不包邮哦，其他地方满99元包邮"),
    ("shipping", "满99元全国包邮，港澳台除外～"),
    ("shipping", "包邮不包括港澳台哦，不满99元收10元运费"),
    ("members", "金卡会员全场九五折，生日当月还会送您一份试饮装哦"),
    ("members", "金卡会员有9.5折优惠，生日那个月还送试饮装"),
    ("returns", "收到7天内没拆封的话可以无理由退换，定制商品除外哦，退货运费需要您承担"),
    ("returns", "七天内未拆封可以退换的，不过定制的商品不行哦"),
    ("payment", "可以用微信支付或支付宝，在小程序下单时付款，暂不支持货到付款哦"),
    ("longjing", "明前西湖龙井250克一罐，298元，保质期18个月，开封后记得冷藏哦"),
    ("longjing", "这款龙井一罐250克，售价298元～"),
    ("service", "客服每天9:00-21:00都在线，您在公众号对话框留言就好"),
    ("shipping", "您好，单笔满99元就包邮（港澳台除外）"),
    ("arrival", "下单后48小时内从杭州发货，其他地区2到4天，新疆西藏青海这些偏远地区要5-7天哦"),
    ("arrival", "偏远地区一般5到7天，其他地区2到4天就到了"),
    ("arrival", "其他地区一般2-4天能到哦"),
    ("shipping", "香港、澳门和台湾暂时不包邮哦，其他地方满99元包邮"),
    ("shipping", "亲，您好～我们单笔订单满99元就可以享受全国包邮哦（港澳台地区除外），不满99元的话需要收取10元运费呢"),
]


def _draft(entry: str, reply: str):
    model = FakeChatModel().enqueue(reply)
    hit = ENTRIES[entry]
    return draft_with_llm(model, PROMPT, shop_name="茶小铺", question=hit.question, history=[], hits=[hit])


def test_the_set_is_big_enough():
    assert len(ADVERSARIAL) >= 40 and len(FAITHFUL) >= 10


@pytest.mark.parametrize("entry,reply,kind", ADVERSARIAL)
def test_adversarial_reply_is_refused(entry, reply, kind):
    result = _draft(entry, reply)
    assert result.text is None, f"got through: {reply}"
    assert result.fallback_reason.endswith("已改用知识库原文")


@pytest.mark.parametrize("entry,reply", FAITHFUL)
def test_faithful_paraphrase_gets_through(entry, reply):
    result = _draft(entry, reply)
    assert result.text == reply, result.fallback_reason


def test_claims_need_the_same_kind_of_claim_in_the_sources():
    sources = [SHIPPING.answer]
    assert unsupported_claims("满99元包邮", sources) == []
    assert unsupported_claims("满99元包邮，附赠茶样", sources) == ["赠品：附赠"]
    # the same gift word is fine when the entry gives that gift, not another one
    assert unsupported_claims("生日当月送您一份试饮装", [MEMBERS.answer]) == []
    assert unsupported_claims("生日当月送您一把紫砂壶", [MEMBERS.answer]) != []


def test_a_long_reply_is_checked_in_linear_time():
    import time

    reply = "满99元包邮，" * 20_000
    started = time.process_time()
    unsupported_claims(reply, [SHIPPING.answer])
    assert time.process_time() - started < 5


@pytest.mark.parametrize(
    "reply",
    [
        "我们不会泄露您的个人信息，请放心",
        "您的订单信息我们会保密，不会透露给第三方",
        "我们的退换规则是7天无理由",
        "亲，这个问题我请同事确认后回复您",
        "满99元包邮哦，有问题随时找我们",
    ],
)
def test_ordinary_replies_are_not_taken_for_leaks(reply):
    from bot.drafting.grounding import leaks_instructions

    system, _ = PROMPT.render(shop_name="茶小铺", passages="", history="", question="")
    assert not leaks_instructions(reply, system)


def test_a_number_is_checked_against_what_it_counts_for_its_subject():
    sources = [ARRIVAL.answer]
    assert unsupported_claims("偏远地区4天", sources) != []  # 4 is 其他地区's; 偏远地区 is 5–7 天
    assert unsupported_claims("其他地区7天", sources) != []
    assert unsupported_claims("偏远地区5到7天", sources) == []
    assert unsupported_claims("其他地区2到4天", sources) == []


def test_the_entrys_own_words_are_never_refused():
    # 「已发货的订单…」 shares 发货 with 「未发货前可以修改」 in the same answer: not a reversal of it
    answer = "未发货前可以修改，请尽快把订单号和新地址发给客服；已发货的订单需要联系快递改派，可能产生额外费用。"
    assert unsupported_claims(answer, [answer]) == []
    assert unsupported_claims("已发货的订单也可以修改地址", [answer]) != []


def test_an_offer_keeps_the_amount_it_starts_from():
    sources = [SHIPPING.answer]
    assert unsupported_claims("全国包邮哦", sources) == ["省略了条件：包邮（资料里是满99…）"]
    assert unsupported_claims("满九十九元包邮", sources) == []
    assert unsupported_claims("港澳台不包邮哦", sources) == []
    # another cited entry that offers it outright is not bound by this one's amount
    assert unsupported_claims("金卡会员全场包邮", [SHIPPING.answer, "金卡会员全场包邮。"]) == []
