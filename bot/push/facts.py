"""Every fact in push copy must come from the brief or a cited FAQ entry.

The same idea as the LLM reply check (bot/drafting/grounding.py), kept separate because push
copy has two kinds of source — the merchant's brief and the FAQ — and because templates are
checked with it too: a template may carry no fact of its own. Facts are normalised before they
are compared — NFKC (full-width → half-width), Chinese numerals before a unit → digits (三天 =
3天), discounts as discounts (八折 = 8折 = 80折) — so a rewording does not hide a number, and an
offer or time word (包邮, 赠送, 明天, 月底…) counts as a fact as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bot.drafting.grounding import discount_key, number_key, parse_number

# Chinese numerals count only before a unit, so 一起 / 一定 are not figures.
_UNITS = "个天日号周年月次件份克斤两元块折倍盒饼箱瓶杯罐包位名款小分秒%％岁期季轮单"
_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_FACT = re.compile(
    # A numeral run is tried from its first character only: from every one is quadratic.
    rf"(?P<discount>(?:{_ARABIC}|(?<![零〇一二两三四五六七八九十])[零〇一二两三四五六七八九十]+)\s*折)"
    rf"|(?P<arabic>{_ARABIC})"
    rf"|(?P<numeral>(?<![零〇一二两三四五六七八九十百千万半])[零〇一二两三四五六七八九十百千万半]+(?=\s*[{_UNITS}]))"
)

OFFER_WORDS = tuple(
    "免费 包邮 免运费 打折 折扣 返现 红包 赠送 赠品 送您 包退 包换 包赔 补偿 保证 承诺 立减 满减 抵扣 "
    "特价 秒杀 会员价 免单 半价 买一送一 加送 多送 限量 限时 抽奖 试饮装 小样 优惠券".split()
)
TIME_WORDS = tuple("今天 明天 后天 当天 当日 次日 本周 下周 周末 月底 年底 今晚 即日起".split())


def facts(text: str) -> list[tuple[str, str]]:
    """(as written, normalised key) for each fact in `text`, in order of the kinds above."""
    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[str, str]] = []
    for match in _FACT.finditer(text):
        kind, token = match.lastgroup, match.group(0)
        if kind == "discount":
            value = parse_number(token.rstrip("折").strip())
            if value is not None:
                found.append((token, discount_key(value)))
        else:
            value = parse_number(token)
            if value is not None:
                found.append((token, number_key(value)))
    found.extend((word, word) for word in OFFER_WORDS + TIME_WORDS if word in text)
    return found


def allowed_facts(sources: Iterable[str]) -> set[str]:
    """The keys stated by `sources`; a discount also states its bare number (8折 → 8)."""
    keys = {key for source in sources for _, key in facts(source)}
    return keys | {key[1:] for key in keys if key.startswith("折")}


def unsupported(text: str, sources: Iterable[str]) -> list[str]:
    """Facts in `text` (as written) that none of `sources` states; empty when all are traceable."""
    allowed = allowed_facts(sources)
    problems: list[str] = []
    for token, key in facts(text):
        if key not in allowed and token not in problems:
            problems.append(token)
    return problems
