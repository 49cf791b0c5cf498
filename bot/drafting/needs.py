"""Questions the FAQ cannot answer however close the match: it lacks the fact asked for.

"明前龙井多少钱一斤" lands next to "龙井是明前茶吗？", and a good match score would let the
composer answer with a fact about 明前 that the customer did not ask for. When the customer asks
for a price and the entry states none, asks about stock and the entry says nothing of it, or
quotes an order or waybill number that only a person with the order system can look up, the
draft goes to a human — 店小二 never supplies a price, a stock level or an order status itself.
"""

from __future__ import annotations

import re

_ASKS_PRICE = re.compile(r"多少钱|什么价|啥价|价位|价钱|价格(?:是|多少|怎么)|几块钱|怎么卖|贵不贵|报个价")
_STATES_PRICE = re.compile(r"\d+(?:\.\d+)?\s*(?:元|块|角)|[¥￥]\s*\d")
_ASKS_STOCK = re.compile(r"有货|现货|还有吗|还有没有|有没有货|库存|断货|缺货|补货|售罄")
_STATES_STOCK = re.compile(r"现货|库存|有货|售罄|补货|预售|断货|缺货")
# A waybill (SF1029384756) or an order number: long runs of digits, optionally with a carrier prefix.
_ORDER_NUMBER = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{0,4}\d{8,}(?![0-9])")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def _quotes_order_number(question: str) -> bool:
    return any(not _MOBILE.fullmatch(m.group()) for m in _ORDER_NUMBER.finditer(question))


def unmet_need(question: str, answer: str) -> str | None:
    """Why `answer` cannot serve `question` whatever the match score, or None."""
    if _quotes_order_number(question):
        return "顾客给了订单号或运单号，需要人工查询订单"
    if _ASKS_PRICE.search(question) and not _STATES_PRICE.search(answer):
        return "顾客问价格，匹配到的条目里没有价格"
    if _ASKS_STOCK.search(question) and not _STATES_STOCK.search(answer):
        return "顾客问库存，匹配到的条目里没有库存信息"
    return None
