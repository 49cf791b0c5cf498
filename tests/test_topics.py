import numpy as np

from bot.knowledge.retrieve import FusionWeights, rerank
from bot.knowledge.topics import shared, topics


def test_topics_are_what_the_customer_wants_done_not_the_product() -> None:
    assert "storage" in topics("牛肉干拆开了还剩大半袋，就这么放几天没事吧")
    assert "missing" in topics("我订的是四罐，打开箱子只有三罐")
    assert "wrong_item" in topics("我下的是孜然味的，收到的是香辣的")
    assert "courier" in topics("是走顺丰吗？")
    assert topics("你好") == frozenset()


def test_unopened_goods_are_not_a_storage_question() -> None:
    assert "storage" not in topics("收到的是香辣的，我不吃辣，还没拆开呢")
    assert "storage" not in topics("没开封的能放几年")
    assert "storage" in topics("开封以后要放冰箱吗")


def test_shared_is_neutral_when_the_question_names_no_topic() -> None:
    assert shared("你好呀", ("开封后怎么保存？",)) == 0.5
    assert shared("拆开了放几天没事吧", ("开封后怎么保存？", "吃不完怎么放")) == 1.0
    assert shared("拆开了放几天没事吧", ("牛肉干是用什么肉做的？",)) == 0.0


def test_rerank_lifts_the_entry_about_the_asked_topic() -> None:
    fused = [("beef", 1.0), ("storage", 0.9), ("origin", 0.1)]
    about = {"beef": 0.0, "storage": 1.0, "origin": 0.0}
    ranked, _ = rerank(fused, None, np.zeros(3), FusionWeights(topic=0.6), about.get)
    assert [e for e, _ in ranked] == ["storage", "beef", "origin"]
    unchanged, _ = rerank(fused, None, np.zeros(3), FusionWeights(topic=0.0), about.get)
    assert unchanged == fused


def test_everyday_ways_of_naming_a_service() -> None:
    assert "transit" in topics("寄北京要几天啊")
    assert "transit" in topics("我在银川，从你们那边发过来得多久")
    assert "transit" not in topics("退款要几天到账")
    assert "region" in topics("人在新加坡读书，能直接寄过来吗")
    assert "address" in topics("刚下的单 想改成寄到公司")
    assert "unsubscribe" in topics("天天推活动烦死了 怎么关掉")
    assert "store" in topics("能到你们仓库自己去拿吗")
    assert "damage" in topics("保温杯收到就有个凹坑")
    assert "missing" in topics("箱子里没找到量杯")


def test_an_entry_on_the_asked_topic_below_the_head_joins_the_re_rank() -> None:
    fused = [(f"book{i}", 2.0 - i / 10) for i in range(10)] + [("missing", 0.5), ("other", 0.4)]
    about = {"missing": 1.0}
    ranked, _ = rerank(fused, None, np.zeros(3), FusionWeights(topic=1.5, topic_pool=3), lambda e: about.get(e, 0.0))
    order = [e for e, _ in ranked]
    assert order.index("missing") < 10 and order.count("missing") == 1 and len(order) == len(fused)
    alone, _ = rerank(fused, None, np.zeros(3), FusionWeights(topic=1.5, topic_pool=0), lambda e: about.get(e, 0.0))
    assert alone[0][0] == "book0" and alone[10][0] == "missing"


def test_a_day_a_crack_and_a_head_count_name_their_services() -> None:
    assert "transit" in topics("我在成都，今天拍的话大概几号能到？")
    assert "transit" not in topics("退的钱哪天能到账")
    assert "damage" in topics("盖碗碎成两半了")
    assert "bulk" in topics("公司中秋要给员工发茶，大概五十来份")


def test_paying_dampness_free_shipping_and_a_wrong_address_are_named() -> None:
    assert "payment" in topics("能不能东西送到了再给快递员现金")
    assert "payment" in topics("想从对公账户打款过去")
    assert "defect" in topics("茶叶软软的有点潮 还结块了")
    assert "shipping_fee" in topics("凑单凑到多少钱能免邮啊")
    assert "address" in topics("地址写成老家的了 能改成学校吗")


def test_cancelling_and_how_long_it_keeps() -> None:
    assert "cancel" in topics("手滑多拍了一单，怎么撤掉啊")
    assert "cancel" in topics("东西已经发出来了，还能取消吗")
    assert "cancel" not in topics("怎么取消订阅")
    assert "shelf_life" in topics("开封放了两个月了还能喝不")
    assert "shelf_life" in topics("开了罐大概多久要喝完")


def test_sending_to_a_city_asks_how_long_in_transit() -> None:
    assert "transit" in topics("发到乌鲁木齐得多久啊")
    assert "transit" not in topics("发货一般要多久")


def test_more_everyday_ways_of_naming_a_service() -> None:
    assert "transit" in topics("寄新疆乌鲁木齐要多久啊")
    assert "store" in topics("你们店周末开门不")
    assert "shelf_life" in topics("放冰箱冷藏能存多长时间")
    assert "defect" in topics("刚拆开茶叶软塌塌的，摸着潮乎乎的")
    assert "address" in topics("已经寄出来了，还能转寄吗")
    assert "report" in topics("质检报告在哪里能看到")
    assert "suitability" in topics("我脾胃比较寒，白茶还能喝吗")
