"""Questions the FAQ cannot answer however close the match: it lacks the fact asked for.

"明前龙井多少钱一斤" lands next to "龙井是明前茶吗？", and a good match score would let the
composer answer with a fact about 明前 that the customer did not ask for. The same holds for
"淘宝上有你们店吗" next to "有线下门店吗？" or "我的积分怎么少了" next to "积分怎么用？": the
words are the entry's, the question is not. So some things must be *addressed* by the matched
entry, not merely near it:

* a price, a stock level — 店小二 never supplies one the entry does not state;
* an order or waybill number — only a person with the order system can look it up;
* a facet the entry never mentions: another sales platform, an invoice, franchising or
  wholesale, a job, parking, customisation, test reports, an account that changed or a
  benefit that vanished, a complaint, a pick-up or doorstep delivery, a phone number, a
  points mall, a refused parcel, the return address, medical costs, anti-counterfeit codes,
  a student or other identity discount. These are the questions a shop FAQ usually leaves out
  and a near match answers wrongly; when the entry does mention the facet it may answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_ASKS_PRICE = re.compile(r"多少钱|什么价|啥价|价位|价钱|价格(?:是|多少|怎么)|几块钱|怎么卖|贵不贵|报个价")
_STATES_PRICE = re.compile(r"\d+(?:\.\d+)?\s*(?:元|块|角)|[¥￥]\s*\d")
_ASKS_STOCK = re.compile(r"有货|现货|还有吗|还有没有|有没有货|库存|断货|缺货|补货|售罄")
_STATES_STOCK = re.compile(r"现货|库存|有货|售罄|补货|预售|断货|缺货")
# A waybill (SF1029384756) or an order number: long runs of digits, optionally with a carrier prefix.
_ORDER_NUMBER = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{0,4}\d{8,}(?![0-9])")
_MOBILE = re.compile(r"1[3-9]\d{9}")


# (the facet, what the customer says when asking about it, what the entry says when it
# addresses it — the same words unless given). When the question names the facet and the
# entry (its question, phrasings and answer) says none of those words, it cannot answer it.
_FACETS: tuple[tuple[str, str, str | None], ...] = (
    ("其他购买渠道", r"淘宝|天猫|京东|拼多多|抖音|快手|小红书|小程序|app|官网|网店|直播间|旗舰店", None),
    ("发票", r"发票|开票|抬头|税号", None),
    ("加盟、代理或批发", r"加盟|代理|招商|分店|批发|代发|经销", None),
    ("招聘", r"招聘|招人|招客服|兼职|应聘|求职", None),
    ("停车或交通", r"停车|车位|地铁|公交", None),
    ("定制", r"定制|订做|定做|刻字|印logo|印字", None),
    ("检测或认证", r"检测|质检|甲醛|认证|报告", None),
    ("留货或延期付款", r"预留|留货|帮我留|给我留|留着|再付款|晚点付|延期付|分期|赊账", None),
    ("账户变更", r"改绑|换绑|解绑|换手机号|换了手机号|注销|改名字|改昵称|密码", None),
    ("有效期", r"清零|过期|失效|有效期", r"清零|过期|失效|有效期|期限|截止|\d+\s*(?:天|个月|年)内"),
    ("异常或不见了", r"少了|不见了|没了(?!解)|消失|被扣|扣掉|用不了|(?<!能)不能用|用不上|无法使用|异常|根本没收到|显示已签收|丢件|丢了", None),
    ("投诉", r"投诉|差评|举报|骗子|12315|找你们老板|找老板|曝光|维权", None),
    ("上门取件", r"上门取|取件|来取|上门收", r"上门|取件"),
    # Not 驿站 or 快递柜 alone: customers name them as the trouble when asking which courier to pick.
    ("送货上门或上楼", r"送货上门|送[货到]?上楼|搬上楼|送到家门口", r"上门|上楼|门口"),
    ("客服电话", r"电话|热线|座机", r"电话|热线|\d{3,4}[- ]?\d{3,4}[- ]?\d{3,4}"),
    ("积分兑换", r"积分商城|兑换|换礼品|换东西|换购", r"兑换|商城|换购|礼品"),
    ("拒收", r"拒收|拒签", None),
    ("退货地址", r"退货地址|寄回.{0,4}地址|寄到哪|寄回哪|退到哪", r"地址"),
    ("医药费或额外赔偿", r"医药费|医疗费|看病|去医院|检查费|误工|精神损失", r"医|赔"),
    ("防伪查询", r"防伪", None),
    ("身份优惠", r"学生|教师|老师优惠|军人|老人优惠", None),
)
_FACET_PATTERNS = tuple(
    (name, re.compile(asked, re.I), re.compile(addressed or asked, re.I)) for name, asked, addressed in _FACETS
)


def _quotes_order_number(question: str) -> bool:
    return any(not _MOBILE.fullmatch(m.group()) for m in _ORDER_NUMBER.finditer(question))


def unaddressed_facet(question: str, entry_texts: Iterable[str]) -> str | None:
    """The first facet the question asks about that none of `entry_texts` mentions, or None."""
    asked = [(name, addressed) for name, asks, addressed in _FACET_PATTERNS if asks.search(question)]
    if not asked:
        return None
    entry = "\n".join(entry_texts)
    return next((name for name, addressed in asked if not addressed.search(entry)), None)


def unmet_need(question: str, answer: str, entry_questions: Iterable[str] = ()) -> str | None:
    """Why the entry (`answer`, plus its question and phrasings) cannot serve `question`, or None."""
    if _quotes_order_number(question):
        return "顾客给了订单号或运单号，需要人工查询订单"
    if _ASKS_PRICE.search(question) and not _STATES_PRICE.search(answer):
        return "顾客问价格，匹配到的条目里没有价格"
    if _ASKS_STOCK.search(question) and not _STATES_STOCK.search(answer):
        return "顾客问库存，匹配到的条目里没有库存信息"
    facet = unaddressed_facet(question, [answer, *entry_questions])
    if facet == "投诉":
        return "顾客在投诉或要求升级处理，需要人工跟进"
    if facet:
        return f"顾客问到{facet}，匹配到的条目没有提到"
    return None
