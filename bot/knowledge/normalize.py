"""Read a customer's message in the words the FAQ is written in.

Customers in Hong Kong, Macau, Taiwan and overseas write in Traditional characters, often with
Cantonese (唔、咩、幾耐) or Taiwanese shop words (出貨、宅配), and mix in English (refund,
shipping fee). The FAQ, the topic cues and the rules are in Simplified Mandarin, so before a
message is searched it is converted: script with OpenCC, then a short table of everyday
Cantonese, Taiwanese and English shop words. A message already in Simplified Mandarin comes
through unchanged, apart from those words.

Cantonese grammar words are here; the shop words (Taiwanese 出货、宅配, English refund, pinyin
initials kf、jf) are data with the hand-off policy's trade words (bot/policy/data/rules.yaml,
`shop_words`, `english_words`), which a shop may extend with its own.

The table holds only words with one meaning in a shop's chat; 系 (Cantonese 係 after
conversion, but also 系列、关系) and 先 (才 in Cantonese, first in Mandarin) are left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

from bot.policy.loader import TradeWords, active_words

_T2S = opencc.OpenCC("t2s")

# Cantonese 係 must become 是 before OpenCC turns it into the ambiguous 系; 關係 (Taiwan's 沒關係)
# is 关系 and stays so.
_BEFORE_SCRIPT = (("係咪", "是不是"), ("係唔係", "是不是"), ("關係", "关系"), ("关係", "关系"), ("係", "是"))

_SIDE = r"(?<![这那旁身海河江湖路街周左右东西南北上下里外前后两一半床窗门桌手耳嘴脚])"

# (pattern, replacement) on Simplified text, applied in order.
_WORDS: tuple[tuple[str, str], ...] = (
    # Cantonese
    (r"系唔系|系咪", "是不是"),
    (r"几耐|几长时间", "多久"),
    (r"几多", "多少"),
    (r"几时", "什么时候"),
    # 点样 (how) only before a verb: 「寄点样品」 is Mandarin.
    (r"点样(?=[做弄改用买退冲泡收开去整办申处搞睇揾])", "怎么"),
    # 点解 (why) and 边 (which) also sit inside Mandarin words: 快点解决, 一点解释; 这边到现在,
    # 那边个人, 海边度假, 去了边境. Cantonese 边 never follows a word 边 is the side of.
    (r"(?<![一快早慢有重差多少这那亮焦])点解(?![决释答说读析码锁开除散冻压绑约封禁惑渴馋闷气题])", "为什么"),
    (_SIDE + r"边[度到]|去[咗了]边(?![境疆缘界际角沿上])", "哪里"),
    (_SIDE + r"边个", "谁"),
    (_SIDE + r"边[间家]", "哪家"),
    (r"乜嘢|乜野|咩嘢|咩", "什么"),
    (r"(?<![然反进从因继])而家", "现在"),  # not 然而家里
    (r"雪柜", "冰箱"),
    (r"着数", "优惠"),
    (r"[捱挨]夜", "熬夜"),  # OpenCC reads 捱 as 挨
    # heaty (上火), not the steam of 冒热气、热气腾腾、热气球、空调热气不足
    (r"(?<![冒出散喷股阵蒸的调风])热气(?![腾球片扑流]|不足|不够)", "上火"),
    (r"(?<=[\d一二三四五六七八九十百两])蚊", "元"),
    (r"仲(?=未|有|要|会|可以|系|是|能)", "还"),
    (r"冇", "没有"),
    (r"唔该晒|唔该", "谢谢"),  # not 不该 (should not)
    (r"唔系", "不是"),  # 唔係 typed with the Simplified 系
    (r"唔使|唔洗", "不用"),
    (r"唔", "不"),
    (r"嘅", "的"),
    (r"咗", "了"),
    (r"喺", "在"),
    (r"啲", "些"),
    (r"哋", "们"),
    (r"佢", "他"),
    (r"嘢", "东西"),
    (r"睇", "看"),
    (r"揾", "找"),
    (r"攞", "拿"),
    (r"[畀俾]", "给"),
    (r"啱啱", "刚刚"),
    (r"啱", "合适"),
    (r"嚟", "来"),
    (r"咁", "这么"),
    # 饮 is 喝 in Cantonese (饮完、饮白茶); 试饮、学饮杯、饮料 stay Mandarin.
    (r"(?<![试学冷热餐畅])饮(?=[茶完得不了些白普龙生熟红绿乌这那多几])", "喝"),
)
_GRAMMAR = tuple((re.compile(pattern), replacement) for pattern, replacement in _WORDS)


def _english(pattern: str) -> re.Pattern[str]:
    # Chinese characters count as word characters to `re`: a word's edges are "no Latin letter or digit".
    return re.compile(rf"(?i)(?<![a-z0-9])(?:{pattern})(?![a-z0-9])")


_compiled_for: TradeWords | None = None
_COMPILED: tuple[tuple[re.Pattern[str], str], ...] = ()


def _replacements() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The Cantonese grammar words, then the shop words in force (bot/policy/data/rules.yaml and
    a shop's own), recompiled when those change."""
    global _compiled_for, _COMPILED
    words = active_words()
    if words is not _compiled_for:
        _COMPILED = _GRAMMAR + tuple((re.compile(p), r) for p, r in words.shop_words) + tuple(
            (_english(p), r) for p, r in words.english_words
        )
        _compiled_for = words
        _normalize.cache_clear()
    return _COMPILED


@lru_cache(maxsize=16384)
def to_simplified(text: str) -> str:
    """`text` in Simplified characters (words and phrasing untouched). Cached: the gate converts
    the matched entry's phrasings and answer on every decision, and those repeat."""
    return _T2S.convert(text)


def normalize_message(text: str) -> str:
    """A customer's message in Simplified Mandarin, as the FAQ would word it."""
    _replacements()  # clears the cache below when the shop words changed
    return _normalize(text)


# Links and e-mail addresses a customer pastes: the English shop words must not be read into
# them (https://shop.example.com/order/return?points=1, m.tb.cn, dd.kf@sf-express.com). A link
# is a run of printable ASCII that looks like one; runs are found in one pass (no backtracking
# on a pasted novel of digits or dots).
_ASCII_RUN = re.compile(r"[!-~]+")
_TOP_DOMAIN = re.compile(r"(?i)\.(?:com|cn|net|org|hk|tw|io|me|cc)(?![a-z0-9-])")


def _is_link(run: str) -> bool:
    return (
        "://" in run
        or run[:4].lower() == "www."
        or "." in run.partition("@")[2]
        or _TOP_DOMAIN.search(run) is not None
    )


@lru_cache(maxsize=4096)
def _normalize(text: str) -> str:
    out: list[str] = []
    done = 0
    for run in _ASCII_RUN.finditer(text):
        if _is_link(run.group()):
            out += [_normalize_words(text[done:run.start()]), run.group()]
            done = run.end()
    if not out:
        return _normalize_words(text)
    return "".join(out) + _normalize_words(text[done:])


def _normalize_words(text: str) -> str:
    for old, new in _BEFORE_SCRIPT:
        text = text.replace(old, new)
    text = _T2S.convert(text)
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text
