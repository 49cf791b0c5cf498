import pytest

from bot.drafting.needs import unmet_need

PUER = "普洱茶饼放在通风、避光、无异味的地方，可以长期存放。"
PRICED = "明前特级龙井 250 克礼盒装 598 元，顺丰包邮。"


@pytest.mark.parametrize(
    "question, answer",
    [
        ("你们普洱茶饼一饼多少钱啊", PUER),
        ("紫砂壶大概什么价位", "茶具为宜兴原矿紫砂。"),
        ("明前龙井现在还有货吗", "龙井是清明前采摘的明前茶。"),
        ("我的单号SF1029384756 到哪了", "下单后可在订单页查看物流。"),
        ("订单号2024100812345 怎么还没发", "付款后 48 小时内发货。"),
    ],
)
def test_facts_the_entry_does_not_state_go_to_a_human(question, answer):
    assert unmet_need(question, answer)


@pytest.mark.parametrize(
    "question, answer",
    [
        ("明前龙井多少钱", PRICED),  # the entry states the price
        ("送礼的话里面别放价格哈", "送礼订单可以不放价格单，备注即可。"),  # 价格 here is not a question about price
        ("满多少包邮", "单笔满 99 元包邮。"),
        ("预售的什么时候有货", "预售款付款后 15 天内发货，现货 48 小时内发出。"),
        ("我手机号13800000000，客服几点在", "客服在线时间 9:00-22:00。"),  # 11 digits: but a mobile, not an order
    ],
)
def test_questions_the_entry_can_serve_pass(question, answer):
    assert unmet_need(question, answer) is None


STORE = "有线下门店吗？", "杭州西湖区龙井路 18 号有一家茶室，周二至周日 10:00–18:00 营业。"
POINTS = "积分怎么用？", "100 积分抵 1 元，积分有效期到次年 12 月 31 日。"
RETURNS = "可以退货吗？", "收到 7 天内、未拆封的商品可以无理由退货，寄回运费由买家承担。"


@pytest.mark.parametrize(
    "question, entry",
    [
        ("淘宝上有你们店吗", STORE),  # another platform
        ("门店附近好停车吗", STORE),
        ("可以加盟开分店吗", STORE),
        ("我的积分莫名其妙少了五百 怎么回事", POINTS),  # an account problem, not how points work
        ("会员换了手机号 积分怎么转过去", POINTS),
        ("再这样我就投诉了", POINTS),
        ("积分除了抵钱还能去积分商城换东西吗", POINTS),  # a points mall the entry never mentions
        ("退货能安排快递上门取件吗", RETURNS),
        ("退货地址是哪里 寄到哪", RETURNS),
        ("用了过敏去医院花了两百，医药费能报吗", RETURNS),
        ("客服电话多少 想直接打过去", ("客服在线时间？", "每天 9:00–22:00 在线。")),
        ("京东物流能送货上楼吗，我住6楼", ("发什么快递？", "默认发中通，可补差价发顺丰。")),
        ("已经发货了我不想要了，直接拒收可以吗", RETURNS),
    ],
)
def test_a_facet_the_entry_never_mentions_goes_to_a_human(question, entry):
    entry_question, answer = entry
    assert unmet_need(question, answer, [entry_question])


@pytest.mark.parametrize(
    "question, entry",
    [
        ("杭州的门店几点开门", STORE),
        ("积分明年还能用吗 会不会清零", POINTS),  # 清零 is answered by the stated validity period
        ("积分能不能用来抵运费", POINTS),  # 能不能用 is not 不能用
        ("能开发票吗", ("可以开发票吗？", "可以开电子普通发票，下单时备注抬头和税号。")),
        ("积分怎么兑换", ("积分怎么用？", "100 积分抵 1 元，也可以在积分商城兑换茶具。")),
        ("客服电话多少", ("怎么联系客服？", "客服热线 400-123-4567，每天 9:00–22:00。")),
        # 驿站 names the trouble with a courier; it is not asking for doorstep delivery.
        ("你们默认走哪个快递啊，我们小区中通老放驿站", ("发什么快递？", "默认发中通，可补差价发顺丰。")),
        ("退货寄到哪", ("怎么退货？", "联系客服登记后，按客服给的退货地址寄回即可。")),
    ],
)
def test_a_facet_the_entry_addresses_passes(question, entry):
    entry_question, answer = entry
    assert unmet_need(question, answer, [entry_question]) is None


def test_the_reason_names_the_facet():
    assert "其他购买渠道" in unmet_need("抖音直播间买的能在这退吗", "收到 7 天内可无理由退货。")
    assert "投诉" in unmet_need("东西太差了我要给差评", "收到 7 天内可无理由退货。")
