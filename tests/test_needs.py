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
        ("客服的电话号码给一个 想直接打过去", ("客服在线时间？", "每天 9:00–22:00 在线。")),
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
        ("客服的电话号码给一个", ("怎么联系客服？", "客服热线 400-123-4567，每天 9:00–22:00。")),
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


INVOICE = "能开发票吗？", "可以开电子普通发票，下单时在备注里写抬头和税号，发货后 3 个工作日内发到邮箱。"
SICK = "吃了以后拉肚子怎么办？", "先停喂一两天，症状持续请及时就医，并把批次号发给客服。"


@pytest.mark.parametrize(
    "question, entry",
    [
        ("发票抬头开错了，能作废重开吗", INVOICE),  # the entry says how to get one, not how to fix one
        ("你们有退货运费险吗", RETURNS),
        ("积分能转给我妈的账号用吗", POINTS),
        ("昨天刚买今天就降价了，能退差价吗", RETURNS),
        ("能指定下周五送到吗", ("几天能到？", "江浙沪次日达，其他地区 2–4 天。")),
        ("外箱能不印你们店名吗", ("有礼盒吗？", "有礼盒装，附手提袋。")),
        ("一小袋热量多少大卡", ("每日坚果里有什么？", "腰果、巴旦木、蔓越莓干等六种。")),
        ("这个精华一般多久能见效", ("精华怎么用？", "洁面后取两三滴，早晚各一次。")),
        ("这个电饭煲功率多大，耗电吗", ("电饭煲多大容量？", "3 升适合 2–4 人。")),
        ("两盒能分别寄到两个地址吗", ("什么时候发货？", "16:00 前付款当天发。")),
        ("用了半年不保温了，你们保修吗", ("保温杯能保温多久？", "装满开水 6 小时后仍在 60℃ 以上。")),
        ("去医院花了八百检查费，你们能报吗", SICK),  # 就医 in the answer is advice, not cover
        ("帮我看下我上次买的是哪款龙井", ("龙井是明前茶吗？", "明前特级龙井是清明前采摘的头采茶。")),
        ("麻烦看看我上个月那单的积分到账了没有", POINTS),
        ("送货上门能顺便帮忙安装吗", ("大件能送货上楼吗？", "大件包送货上楼，电梯房免费。")),
        ("喝不完的茶叶你们回收吗", RETURNS),
        ("物流三天都没更新了是怎么回事", ("几天能到？", "江浙沪次日达，其他地区 2–4 天。")),
        ("买得多能便宜点吗", ("包邮吗？", "单笔满 99 元包邮。")),
    ],
)
def test_common_service_needs_a_near_entry_does_not_settle_go_to_a_human(question, entry):
    entry_question, answer = entry
    assert unmet_need(question, answer, [entry_question])


@pytest.mark.parametrize(
    "question, entry",
    [
        ("发票开错了怎么办", ("发票开错了能重开吗？", "发票信息有误的，联系客服作废后 2 个工作日内重开。")),
        ("积分可以转给家人吗", ("积分能转赠吗？", "积分不能转赠或转让给其他账号。")),
        ("帮我查一下快递到哪了", ("怎么查物流？", "在「我的订单」里可以看到物流，也可以把订单号发给我们帮您查。")),
        ("我上次买的龙井还剩半罐，能放多久", ("龙井的保质期多久？", "密封冷藏保质期 18 个月，开封后 1 个月内喝完。")),
        ("电饭煲坏了保修吗", ("电器怎么保修？", "电器整机保修一年，质量问题免费维修。")),
        ("生病了要去医院看吗", SICK),  # no cost asked for
        ("想送我妈一个电饭煲，能包装一下吗", ("可以包装成礼物吗？", "可以，备注「礼品包装」即可。")),  # 装 is not 安装
        ("买 50 个能便宜点吗", ("企业团购有优惠吗？", "满 30 件 9 折，满 100 件 85 折。")),
        ("书柜要自己安装吗", ("书柜怎么组装？", "附安装说明和工具，按图组装约 30 分钟。")),
    ],
)
def test_an_entry_that_settles_a_common_service_need_may_answer(question, entry):
    entry_question, answer = entry
    assert unmet_need(question, answer, [entry_question]) is None


HOURS = "客服在线时间是几点到几点？", "在线客服每天 9:00–22:00；22:00 以后的留言第二天上午统一回复。"
GIFT = "有礼盒包装吗？", "龙井、白茶、普洱都有礼盒装，下单时选择「礼盒装」规格即可。"
DISPATCH = "什么时候发货？", "当天 16:00 前付款的订单当天发出，16:00 后付款的次日发出。"
BROKEN = "茶具碎了可以补发吗？", "茶具在运输中破损的，签收后 48 小时内拍照联系客服，核实后免费补发。"


@pytest.mark.parametrize(
    "question, entry",
    [
        ("在吗？？", HOURS),  # a greeting asks nothing yet
        ("亲 你好", STORE),
        ("你是机器人吧 我要找真人", HOURS),
        ("能转人工吗", HOURS),
        ("优惠券和积分能一起用吗", POINTS),
        ("退货的话，用掉的优惠券会退回来吗", RETURNS),
        ("我拍了两单，能合并一起发吗", DISPATCH),
        ("撬茶饼的茶针可以单独买吗", ("普洱茶饼怎么撬开？", "用茶针从侧面撬开；买满 2 饼送一支茶针。")),
        ("壶附的证书在哪里查真伪", ("紫砂壶是真的吗？", "宜兴原矿紫砂，每把附证书。")),
        ("会员中心打不开 一直在转圈", ("怎么成为会员？", "关注公众号后在菜单「会员中心」免费注册。")),
        ("钱也扣了，订单还是待付款", ("支持哪些付款方式？", "支持微信支付和支付宝。")),
        ("这次的跟上次买的味道差好多，是不是换货了", ("龙井是明前茶吗？", "明前特级龙井是清明前采摘的头采茶。")),
        ("有英文版的说明书吗", GIFT),
        ("龙井和白茶能装在同一个礼盒里吗", GIFT),
        ("试饮装的三款能自己选吗", ("能寄样品试喝吗？", "新客户可以申请一次试饮装（3 款各 5 克）。")),
        ("过了48小时才发现碎了，还给补吗", BROKEN),  # the entry states the limit; an exception is a person's call
        ("推荐一款送长辈的茶", GIFT),
        ("礼盒装比普通装贵多少", GIFT),
        ("明前龙井什么时候上新", ("龙井是明前茶吗？", "明前特级龙井是清明前采摘的头采茶。")),
        ("帮我查下我昨天下午那单发了没", DISPATCH),
        ("帮我看看我账户里还有多少积分", POINTS),
        ("下单时忘了写抬头，现在还能补开吗", INVOICE),
        ("什么服务态度，问了半天", HOURS),
        ("我是做社区团购的，想拿你们的货代发", ("企业团购怎么买？", "企业采购和团购请联系客服登记需求。")),
        ("你们茶叶有没有有机认证", ("茶叶有农残检测报告吗？", "每批茶叶都送第三方检测机构做农残检测。")),
        ("网上下单能去店里自提吗", STORE),
        ("到门店试饮要提前预约吗", STORE),
        ("新茶预售的那款哪天发货", DISPATCH),
        ("收货人手机号填错了一位，能改一下吗", ("下单后可以改地址吗？", "未发货前可以修改，请把订单号和新地址发给客服。")),
        ("礼盒大概多大尺寸", GIFT),
        ("以后会开通海外直邮吗", ("可以寄到国外吗？", "目前只发中国大陆地区。")),
        ("能不能晚几天再寄，想生日那天刚好到", ("一般几天能到货？", "江浙沪一般次日达，其他地区 2–4 天。")),
        ("签收都四天了才打开，发现受潮了还能处理吗", BROKEN),
        ("我上周五下的单到现在还没发货", DISPATCH),
        ("两个订单能合成一个包裹寄吗", DISPATCH),
        ("生日那个月忘领试饮了，下个月还能补领不", ("会员有什么权益？", "生日当月可领一份试饮装。")),
        ("券昨天刚过期，能帮忙延个期吗", ("有没有优惠券？", "优惠券只通过会员中心发放。")),
        ("金卡一年没怎么买，会不会降回普通的", ("会员有什么权益？", "金卡会员积分加倍。")),
        ("金卡每季度送的试饮装都是哪几样茶", ("会员有什么权益？", "每季度可免费领取一次新茶试饮装。")),
        ("能让我女儿帮我代付吗", ("支持哪些付款方式？", "支持微信支付和支付宝。")),
        ("紫砂壶平时要怎么保养", ("紫砂壶怎么开壶？", "新壶用清水冲洗后小火煮 30 分钟。")),
        ("礼盒能多给几个手提袋吗", GIFT),
        ("玻璃公道杯能进洗碗机吗", ("茶具是什么材质？", "盖碗和公道杯是高硼硅玻璃。")),
        ("付款走的支付宝，钱几天能退回来", ("退款多久到账？", "原路退回，微信支付即时到账，银行卡 1–3 个工作日。")),
        ("双十一搞活动不，会降价吗", GIFT),
        ("不到二十份能不能也按团购价算", ("企业团购怎么买？", "单笔 20 份以上请联系客服登记。")),
        ("过了一个礼拜才打开，发现受潮了，还能找你们吗", BROKEN),
    ],
)
def test_needs_no_entry_here_settles_go_to_a_human(question, entry):
    entry_question, answer = entry
    assert unmet_need(question, answer, [entry_question])


@pytest.mark.parametrize(
    "question, entry",
    [
        ("在吗 龙井怎么泡", ("龙井怎么冲泡？", "水温 80–85℃，3 克茶配 150 毫升水。")),  # a greeting, then a question
        ("你们有扫地机器人卖吗", ("下单后能改地址吗？", "未发货前可以修改。")),  # not asking for a person
        ("有真人实拍图吗", ("衣服有色差吗？", "详情页都是实拍图，不同屏幕可能略有色差。")),
        ("会员折扣和优惠券能叠加吗", ("优惠能叠加吗？", "会员折扣可与优惠券叠加使用，积分另算。")),
        ("两个订单能合并发货吗", ("可以合并发货吗？", "同一地址未发货的订单可以合并发出。")),
        ("我家猫9斤，驱虫药买哪个规格", ("驱虫药怎么选规格？", "按体重选：4 斤以下小号，4–10 斤中号。")),
        ("下单买了运费险，退货运费能报吗", ("退货运费谁出？", "买了运费险的由保险赔付，否则买家承担。")),
        ("之前退订了，想看上新的活动怎么恢复", ("怎么退订促销消息？", "回复「退订」即可；想重新接收回复「订阅」。")),
        ("晚上发消息没人回，客服几点下班", HOURS),
        ("登录不了，一直转圈怎么办", ("登录不了怎么办？", "请先更新到最新版本，清除缓存后重新登录。")),
        ("积分退货后会退回吗", ("退货后积分怎么处理？", "退货后，该订单获得的积分会扣回，抵扣用掉的积分原路退回。")),
        ("能走中通吗，顺丰老放驿站不送上楼", ("用的是什么快递？", "默认发顺丰，暂不支持指定其他快递。")),  # the trouble, not a request
        ("银行卡付的款，钱会退到哪", ("退款多久到账？", "原路退回，银行卡 1–3 个工作日。")),  # money, not goods
        ("今天拍的明天能发吗", DISPATCH),  # when orders ship, not chasing one
        ("早上八点多给你们发消息没人理，几点上班", HOURS),  # 多给 here is not asking for extras
        ("别让收礼的人看到多少钱", ("送礼可以不放价格单吗？", "备注「不放价格单」即可。")),  # a price tag, not a price
        ("积分年底前没用掉会作废吗", POINTS),  # points expiring, not voiding an invoice
        ("礼盒有哪几种呀", ("有哪些礼盒？", "有坚果礼盒和果干礼盒两种。")),
    ],
)
def test_an_entry_that_settles_the_need_may_answer(question, entry):
    entry_question, answer = entry
    assert unmet_need(question, answer, [entry_question]) is None


def test_a_greeting_and_a_request_for_a_person_say_so():
    assert "打招呼" in unmet_need("在吗？？", "任意答案")
    assert "人工" in unmet_need("你是机器人吧", "任意答案")
