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
        ("客服电话是13800000000吗", "客服在线时间 9:00-22:00。"),  # 11 digits: but a phone, not an order
    ],
)
def test_questions_the_entry_can_serve_pass(question, answer):
    assert unmet_need(question, answer) is None
