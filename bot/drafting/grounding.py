"""Check an LLM draft against the entries it cites before anyone sees it.

The one thing a support draft must never do is state a price, discount, date, duration or
promise the merchant did not write. So the draft's facts are pulled out and normalised —
NFKC (full-width → half-width), Chinese numerals → digits (七天 = 7天, 九五折 = 9.5折),
周五 = 星期五 — and each must be found among the facts of the cited entries:

- every number, in digits or Chinese numerals before a unit (三天, 半年, 两盒);
- every discount as a discount: a "8折" is not grounded by an unrelated "8 元";
- every weekday and relative date (明天, 次日, 周五), and every offer or promise word
  (免费, 返现, 保证...), which must appear in the sources as written.

It errs on the side of refusing: a refused draft costs a less fluent reply (the FAQ's own
words), an invented discount costs the merchant money.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_DIGITS = "零〇一二两三四五六七八九"
_VALUE = {
    ch: v
    for v, chars in enumerate(["零〇", "一", "二两", "三", "四", "五", "六", "七", "八", "九"])
    for ch in chars
}
_UNIT = {"十": 10, "百": 100, "千": 1000}
# Chinese numerals count only before a unit, so 一下 / 一定 / 五花八门 are not figures.
_UNITS = "个天日号周年月次件份克斤两元块折倍盒饼箱瓶杯罐包小分秒%％岁期"
# A run of numerals is read from its first character only (or right after a weekday or 双十一,
# which end in a numeral): trying every character of a 100,000-character run is quadratic.
_RUN_START = rf"(?:(?<![{_DIGITS}十百千万半])|(?<=[周期拜].)|(?<=双..))"
_NUMERAL = rf"{_RUN_START}[{_DIGITS}十百千万半]+(?=\s*[{_UNITS}])"
_ARABIC = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_FACT = re.compile(
    rf"(?P<discount>(?:{_ARABIC}|{_RUN_START}[{_DIGITS}十]+)\s*折)"
    rf"|(?P<weekday>(?:周|星期|礼拜)[一二三四五六日天1-7])"
    rf"|(?P<double>双\s*(?:十一|十二|11|12))"
    rf"|(?P<arabic>{_ARABIC})"
    rf"|(?P<numeral>{_NUMERAL})"
)
_WEEKDAY = {**{ch: n for n, ch in enumerate("一二三四五六", start=1)}, "日": 7, "天": 7}

# Offer and promise words: a draft may use one only if the sources do.
OFFER_WORDS = (
    *"免费 包邮 打折 折扣 优惠 返现 红包 赠送 赠品 送您 送你 包退 包换 包赔 赔偿 补偿".split(),
    *"保证 承诺 立减 满减 抵扣 特价 秒杀 会员价 免单 退款 半价 买一送一 加送 多送".split(),
    *"free discount refund guarantee".split(),
)
# Relative dates and deadlines, which are promises too.
TIME_WORDS = tuple(
    "今天 明天 后天 当天 当日 次日 隔天 本周 下周 周末 月底 年底 马上发 立即发".split()
)


def chinese_to_number(text: str) -> float | None:
    """二十四 → 24, 两 → 2, 半 → 0.5, 九五 (as in 九五折) → 95; None when it is not a number."""
    if text == "半":
        return 0.5
    if not text or "半" in text:
        return None
    if all(ch in _VALUE for ch in text):
        return float("".join(str(_VALUE[ch]) for ch in text))
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _VALUE:
            digit = _VALUE[ch]
        elif ch in _UNIT:
            section += (digit or 1) * _UNIT[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10000
            section = digit = 0
        else:
            return None
    return float(total + section + digit)


def parse_number(token: str) -> float | None:
    token = token.replace(",", "").strip()
    if not token:
        return None
    if token[0].isdigit():
        return float(token)
    return chinese_to_number(token)


def number_key(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.4f}".rstrip("0")


def discount_key(value: float) -> str:
    # 8折 = 八折 and 9.5折 = 九五折 = 95折: a discount is a number below ten.
    while value >= 10:
        value /= 10
    return "折" + number_key(round(value, 4))


def _numeral(token: str) -> list[float]:
    # 一两天, 两三盒, 三四年: two neighbouring digits are a range, not 12 / 23 / 34.
    if len(token) == 2 and all(ch in _VALUE for ch in token):
        low, high = _VALUE[token[0]], _VALUE[token[1]]
        if high == low + 1 or (low, high) == (1, 2):
            return [float(low), float(high)]
    value = chinese_to_number(token)
    return [] if value is None else [value]


def facts(text: str) -> list[tuple[str, str]]:
    """(as written, normalised key) for each fact in `text`, in order."""
    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[str, str]] = []
    for match in _FACT.finditer(text):
        kind, token = match.lastgroup, match.group(0)
        if kind == "discount":
            value = parse_number(token.rstrip("折").strip())
            if value is not None:
                found.append((token, discount_key(value)))
        elif kind == "weekday":
            day = token[-1]
            found.append((token, f"周{_WEEKDAY.get(day, day)}"))
        elif kind == "double":
            found.append((token, "双" + ("11" if token.endswith(("一", "11")) else "12")))
        elif kind == "numeral":
            found.extend((token, number_key(value)) for value in _numeral(token))
        else:
            value = parse_number(token)
            if value is not None:
                found.append((token, number_key(value)))
    lowered = text.lower()
    found.extend((word, word) for word in OFFER_WORDS + TIME_WORDS if word in lowered)
    return found


# A source that gives a discount lets a draft call it one (优惠); one that gives something lets a
# draft say it gives it to you (送您). What is given is claims.py's to check.
_IMPLIED_WORDS = (
    (re.compile(r"\d\s*折|[一二三四五六七八九]折|折扣|打折"), ("优惠", "折扣", "打折")),
    (re.compile(r"[送赠]"), ("送您", "送你", "赠送", "赠品")),
)


def figures(text: str) -> set[str]:
    """The normalised keys of every fact in `text`; a discount also states its number (8折 → 8)."""
    keys = {key for _, key in facts(text)}
    for pattern, words in _IMPLIED_WORDS:
        if pattern.search(text):
            keys.update(words)
    return keys | {key[1:] for key in keys if key.startswith("折")}


def ungrounded_facts(draft: str, sources: Sequence[str]) -> list[str]:
    """The facts in `draft` (as written there) that none of `sources` states, in draft order."""
    allowed: set[str] = set().union(*(figures(s) for s in sources)) if sources else set()
    problems: list[str] = []
    for token, key in facts(draft):
        if key not in allowed and token not in problems:
            problems.append(token)
    return problems


_PUNCTUATION = re.compile(r"[\s\W_]+")
# Words a customer-facing reply never needs; a draft that uses them is talking about its prompt.
_INTERNAL_TERMS = (
    "系统提示",
    "提示词",
    "system prompt",
    "<faq>",
    "</faq>",
    "<history>",
    "<customer_message>",
    "</customer_message>",
    "customer_message",
)


# A reply that talks about its own instructions, in any words: what it was told or set up to do,
# the rules above, what model it is, what it may not make up or reveal. (「我们的退换规则」 is the
# shop's, not the model's: 我 followed by 们 does not count.)
_ABOUT_INSTRUCTIONS = re.compile(
    r"我(?!们)(?:的|收到的|所|接到的)?[^，,。]{0,3}(?:指令|指示|提示词?|设定|守则|任务说明|角色设定)"
    r"|我(?!们)的(?:规则|说明|要求)"
    r"|(?:被|受)(?:要求|告知|设定|指示|规定|限定|叮嘱|交代)"
    r"|(?:系统|开发者|上面|以上|前面|后台|内部)(?:的|给的?)?(?:指令|指示|提示|设定|规则|说明|要求|消息)"
    r"|语言模型|人工智能|ai\s*(?:助手|模型)|大模型|chatgpt|(?<![a-z])gpt|openai|claude|deepseek|通义千问|文心一言|豆包|qwen|llama|llm|instruction|prompt"
    r"|(?:不能|不可以|不允许|不得|不要)(?:编造|复述|猜)|(?:透露|复述|总结)(?:这些|我的|系统的?|内部的?)(?:说明|指令|规则|设定|提示)"
)
# A clause made mostly of one instruction line's character pairs restates that line.
_RESTATED_SHARE = 0.6
_RESTATED_MIN_PAIRS = 4


def leaks_instructions(draft: str, system_prompt: str, window: int = 12) -> bool:
    """True when the draft repeats `window` or more characters of the system prompt in a row
    (ignoring spaces and punctuation), restates one of its lines in other words, talks about
    its instructions, or names the prompt or its delimiters."""
    lowered = unicodedata.normalize("NFKC", draft).lower()
    if any(term in lowered for term in _INTERNAL_TERMS) or _ABOUT_INSTRUCTIONS.search(lowered):
        return True
    compact = _PUNCTUATION.sub("", lowered)
    lines = [_PUNCTUATION.sub("", re.sub(r"^\s*\d+[.、]\s*", "", line))
             for line in unicodedata.normalize("NFKC", system_prompt).lower().splitlines()]
    # Character windows of the draft, looked up once each: linear in the draft's length.
    windows = {compact[i : i + window] for i in range(len(compact) - window + 1)}
    if any(line[i : i + window] in windows for line in lines for i in range(len(line) - window + 1)):
        return True
    line_pairs = [{line[i : i + 2] for i in range(len(line) - 1)} for line in lines]
    for clause in re.split(r"[，,。；;！!？?\n]", lowered):
        clause = _PUNCTUATION.sub("", clause)
        pairs = {clause[i : i + 2] for i in range(len(clause) - 1)}
        if len(pairs) < _RESTATED_MIN_PAIRS:
            continue
        for known in line_pairs:
            shared = len(pairs & known)
            if shared >= _RESTATED_MIN_PAIRS and shared >= _RESTATED_SHARE * len(pairs):
                return True
    return False
