"""Check an LLM draft against the entries it cites before anyone sees it.

The one thing a support draft must never do is state a number, price, discount, date or
promise the merchant did not write. So every figure in the draft — in digits or Chinese
numerals — must appear among the cited entries' figures, and offer words (免费, 打折, 返现…)
must appear in them too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_DIGITS = "零〇一二两三四五六七八九"
_VALUE = {ch: v for v, chars in enumerate(["零〇", "一", "二两", "三", "四", "五", "六", "七", "八", "九"]) for ch in chars}
_UNIT = {"十": 10, "百": 100, "千": 1000}
_NUMERAL = re.compile(rf"[{_DIGITS}十百千万半]+(?=\s*[个天日号周年月次件份克斤两元块折倍盒饼箱瓶杯小分秒%％])")
_ARABIC = re.compile(r"\d+(?:\.\d+)?")
OFFER_WORDS = ("免费", "打折", "折扣", "优惠", "返现", "红包", "赠送", "送您", "包退", "保证", "承诺", "立减", "抵扣", "特价", "补偿")


def chinese_to_number(text: str) -> float | None:
    """二十四 → 24, 两 → 2, 半 → 0.5, 九五 (as in 九五折) → 95; None when it is not a number."""
    if text == "半":
        return 0.5
    if "半" in text:
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
    return float(total + section + digit)


def figures(text: str) -> set[float]:
    text = unicodedata.normalize("NFKC", text)
    found = {float(m) for m in _ARABIC.findall(text)}
    for match in _NUMERAL.findall(text):
        value = chinese_to_number(match)
        if value is not None:
            found.add(value)
    return found


def ungrounded_facts(draft: str, sources: Sequence[str]) -> list[str]:
    """Figures and offer words in `draft` that none of `sources` contains, in draft order."""
    allowed = set().union(*(figures(s) for s in sources)) if sources else set()
    source_text = unicodedata.normalize("NFKC", "\n".join(sources))
    problems: list[str] = []
    normalised = unicodedata.normalize("NFKC", draft)
    for match in list(_ARABIC.finditer(normalised)) + list(_NUMERAL.finditer(normalised)):
        token = match.group(0)
        value = float(token) if token[0].isdigit() else chinese_to_number(token)
        if value is not None and value not in allowed and token not in problems:
            problems.append(token)
    problems.extend(w for w in OFFER_WORDS if w in normalised and w not in source_text)
    return problems


def leaks_instructions(draft: str, system_prompt: str, window: int = 12) -> bool:
    """True when the draft repeats any `window`-character stretch of the system prompt."""
    compact = re.sub(r"\s+", "", draft)
    for line in system_prompt.splitlines():
        line = re.sub(r"^\s*\d+[.、]\s*", "", line).strip()
        line = re.sub(r"\s+", "", line)
        for start in range(0, max(len(line) - window + 1, 0), 4):
            if line[start : start + window] in compact:
                return True
    return False
