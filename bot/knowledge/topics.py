"""What a customer-service question is about, whatever the product.

Embeddings of short Chinese chat messages lean on the nouns: 「牛肉干拆开了还剩大半袋，放几天没事吧」
lands on the entry about 牛肉干, not on 「开封后怎么保存？」. A shop's FAQ is organised by what the
customer wants done — ship, return, store, invoice — so retrieval also asks whether a candidate
entry is about the same thing as the question. The topics are the ones every online shop's FAQ
has; the cue words are everyday ways of saying them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.knowledge.normalize import to_simplified

TOPIC_CUES: dict[str, str] = {
    "dispatch": r"发货|发出|寄出|出库|发走|多久发|几天发|什么时候发|啥时候发|先发|一起发|分开发|一起寄|分开寄|当天发|能发吗",
    "courier": r"单号|运单|快递|哪家物流|什么物流|走.{0,3}物流|顺丰|圆通|中通|申通|韵达|极兔|京东物流|邮政|EMS|物流公司",
    "transit": r"几天到(?!账)|(?:运输|路上)[^，。？]{0,4}(?:多久|几天|多长时间)|多久到(?!账)|多久能到|能到不|能到吗|几天能收到|多久能收到|到货时间|送达|明天能到|后天能到|寄(?:到)?.{0,8}(?:几天|多久)|发(?:到|往)?[^，。？]{1,8}(?:几天|多少天)(?!发)|(?:发|寄)过来.{0,4}(?:几天|多久)|发到.{1,8}(?:几天|多久|多长时间)|(?:几号|哪天|什么时候)能?(?:到|收到)(?!账)",
    "shipping_fee": r"运费|邮费|包邮|快递费|配送费|免邮|免运费|包油",  # 包油: the pinyin keyboard's 包邮
    "region": r"港澳台|香港|澳门|台湾|台北|海外|国外|境外|新疆|西藏|偏远|美国|日本|韩国|新加坡|马来西亚|澳洲|澳大利亚|加拿大|英国|欧洲|直邮|集运|转运",
    "address": r"改地址|改寄|转寄|换地址|地址写错|地址填错|修改地址|收货地址|改收货|改个地址|改成寄到|寄到公司|地址改|换个地址|地址(?:写|填)(?:成|的|错)|寄错地址|改成.{0,6}(?:家|学校|公司)",
    "return": r"退货|退掉|退了|能退|可以退|退款|不想要|无理由|退回",
    "cancel": r"取消(?!订阅|关注)|撤单|撤回|撤掉|撤销|拍错|下错|多拍|拍重|重复下单|不想买了",
    "exchange": r"换货|换一[个件双]|换个|换成|调换|换码|换尺码|换颜色|换大|换小",
    "damage": r"破损|破了|压扁|压坏|压烂|裂开|裂了|漏气|瘪|碎了|漏了|摔坏|摔碎|变形|磕坏|磕掉|磕破|断了|是断的|凹进|凹陷|破洞|划痕|凹坑|掉漆|碎成|碎掉|碎的|裂成|裂缝|缺了?个?口",
    "defect": r"质量问题|坏了|变质|受潮|返潮|回潮|有点潮|潮了|潮乎乎|潮潮|软塌塌|软趴趴|发软|结块|哈喇|油耗|发霉|长毛|虫|异味|怪味|臭|不新鲜|掉色|起球|开线|故障|不工作|坏掉|不能用|用不了|开胶|脱胶|空白页|错页|缺页|脱页|印刷问题",
    "missing": r"少发|漏发|少了|缺了|缺少|只有[\d一二两三四五六七八九]|只收到|少[一二两三]|没收到|没找到|找不到|没看到",
    "wrong_item": r"发错|错发|收到的是|不是我[买下订]的|颜色不对|尺码不对|规格不对|发成了",
    "shelf_life": r"保质期|过期|临期|生产日期|新鲜|有效期|放多久|能放|开了?盖|开瓶|用完|到期|还能[喝吃用]|搁多[长久]|存多[长久]|能存"
    r"|放了.{0,3}(?:几|[一二两三四五六七八九十\d]+)个?(?:月|年|天|礼拜|星期)|(?:多久|多长时间|几天|多少天).{0,4}[喝吃用]完",
    # "还没拆开" / "没开封" say the goods are unopened (a return or exchange), not how to keep them.
    "storage": r"保存|储存|存放|冷藏|冷冻|冰箱|密封|(?<![没未])(?:开封|拆开)",
    "discount": r"优惠券|券|满减|折扣|叠加|打折|优惠|红包|秒杀|会员日|活动价|减免",
    "membership": r"会员|积分|等级|金卡|银卡|VIP|vip|入会",
    "invoice": r"发票|开票|抬头|税号|报销",
    "service_hours": r"客服|在线|有人回|人工|几点|上班|下班|营业时间|半夜|周末.{0,4}有人|节假日.{0,4}有人",
    "presale": r"预售|定金|尾款|现货|新季|到货通知|补货",
    "gifting": r"手提袋|礼盒|包装|贺卡|送人|礼物|价格单|小票|价签",
    "suitability": r"脾胃|体质|上火|胃不好|胃寒|孕妇|怀孕|哺乳|宝宝|小孩|孩子|儿童|老人|糖尿病|过敏|敏感|幼猫|幼犬|老年|几岁|适合",
    "dosage": r"一天.{0,6}多少|每天.{0,6}多少|吃多少|喂多少|用量|怎么喂|怎么吃|怎么用|用法|怎么泡|怎么冲",
    "ingredients": r"配料|成分|原料|含有|含不含|添加|防腐剂|谷物|什么做的|材质|面料|什么肉",
    "origin": r"产地|哪里产|哪里生产|哪产的|哪儿产|进口|国产|原产",
    "size": r"尺码|码数|尺寸|规格|身高|体重|偏大|偏小|几码|多大号|容量|多重",
    "subscription": r"周期购|每个?月.{0,6}[寄送发]|自动.{0,4}[寄发续]|定期|订阅",
    "payment": r"付款|支付|付钱|给钱|打款|转账|现金|到付|先收货|对公|花呗|信用卡|刷卡",
    "price": r"多少钱|价格|价钱|几块|贵不贵|便宜|便宜点|少点|改价|砍价",
    "store": r"门店|实体店|线下|当面|开门|关门|自提|到店|自取|自己(?:去|来|过去)?(?:拿|取)|(?:过去|去店里|到店里?)(?:拿|取)",
    "unsubscribe": r"退订|取消订阅|别再发|不要再发|关掉|屏蔽|打扰|推送|推活动|群发",
    "bulk": r"团购|批量|企业采购|公司.{0,6}买|年会|大量|员工|\d+\s*份|[二三四五六七八九十百]+来?份",
    "report": r"检测|质检|报告|农残|重金属",
    "warranty": r"保修|质保|维修|售后服务|坏了.{0,4}修",
}

_CUES = {topic: re.compile(pattern) for topic, pattern in TOPIC_CUES.items()}


@lru_cache(maxsize=65536)
def topics(text: str) -> frozenset[str]:
    """The customer-service topics `text` mentions (often none), in either script."""
    text = to_simplified(text)
    return frozenset(topic for topic, cue in _CUES.items() if cue.search(text))


def topic_start(text: str) -> int | None:
    """Where the first topic cue in `text` begins (「白茶保质期」 → 2), or None."""
    starts = [m.start() for cue in _CUES.values() if (m := cue.search(text))]
    return min(starts, default=None)


def shared(query: str, entry_texts: tuple[str, ...]) -> float:
    """1.0 when the entry (any of its phrasings) is about something the query asks about,
    0.0 when the query names a topic the entry does not, 0.5 when the query names none."""
    wanted = topics(query)
    if not wanted:
        return 0.5
    return 1.0 if any(wanted & topics(text) for text in entry_texts) else 0.0
