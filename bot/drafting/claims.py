"""What an LLM draft claims, checked against what the cited entries say.

`grounding.ungrounded_facts` asks whether each figure of the draft appears in the sources. That
lets through what the issue found: gifts and discounts without a new number (「随单附赠茶样，老客户
还可以抹零」), a fact turned around (「港澳台也包邮」 where the entry excludes them), a new price
built from a number the entry gives for something else (「龙井 99 元一斤」 from 「满 99 元包邮」),
payment instructions, contact ids and links. So the draft's claims are read one by one:

- each number with what it counts: its unit (元, 天, 克…) and the words next to it must match a
  place where the sources give that number;
- each offer, gift, discount, payment instruction and contact word must be one the sources use,
  and what follows a gift or payment word (what is given, where to pay) must be the sources' words;
- Latin ids (a WeChat id, a shop code) and links, with or without digits, must be in the sources;
- a subject shared with a source sentence about the same thing (包邮, 退换, 发货…) must have the
  same polarity there: 「港澳台除外」 against 「港澳台也包邮」, 「满 99 元」 against 「不满 99 元也包邮」.

Everything is compared after NFKC, lower case and Chinese numerals before a unit read as digits,
so a rewording does not hide a claim and a faithful paraphrase is not taken for one. A refused
draft costs a less fluent reply (the FAQ's own words); an invented offer costs the merchant.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

from bot.drafting.grounding import _FACT, _numeral, discount_key, number_key, parse_number

# Words a reply uses around a fact without changing it: pronouns, particles, fillers.
_FILLER = set("我们你您亲这那边就都也还是的了呢吧啊呀哦喔噢哟啦嘛么哈～~的话会要可以能有在给为对把被让或和与及跟等")
_CLAUSE_END = "，,。；;！!？?\n:：（）()、"
_SENTENCE = re.compile(r"[^。；;！!？?\n]+")

_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")
_UNIT = re.compile(r"个月|小时|分钟|公斤|元|块|天|日|周|月|年|折|%|斤|两|克|kg|g|份|盒|罐|饼|袋|包|件|个|次|岁|号|点|泡")
_UNIT_ALIASES = {"块": "元", "日": "天", "g": "克", "公斤": "kg"}
_RANGE = {"-", "–", "—", "~", "～", "到", "至"}

# Claims a draft may make only when the sources make the same kind (the key names it for staff).
CLAIM_WORDS: dict[str, re.Pattern[str]] = {
    "赠品": re.compile(r"附赠|赠送|赠品|赠|加送|多送|再送|白送|送(?=[您你一二两三1-9个份盒件罐包只套张礼小茶杯样])|礼品|礼物|小礼|伴手礼"),
    "抹零": re.compile(r"抹零|抹掉零头|去零头|零头"),
    "折扣或优惠": re.compile(r"打折|折扣|\d折|(?<![\d.])折(?![叠腾断损])|让利|降价|减价|特价|半价|便宜|优惠|特惠"),
    "满减或返现": re.compile(r"满减|立减|减(?=\d)|返现|返利|返还|返(?=\d)|红包|优惠券|代金券|(?<![证])券"),
    "内部价或福利": re.compile(r"福利|老客户价|老顾客价|熟客价|内部价|员工价|vip价"),
    "免费或免单": re.compile(r"免单|免费|不要钱|不收钱|不收费"),
    "包邮": re.compile(r"包邮|免运费|免邮|不收运费|运费全免|运费我们(?:出|承担)"),
    "付款方式": re.compile(r"转账|汇款|打款|转给|付款到|付到|(?:钱|款)?(?:打|存|汇)到|分期|花呗|白条|信用卡|云闪付|私下|个人(?:支付宝|微信|账户|账号|银行卡)|支付宝|微信支付|银行卡|收款码|收款账号|对公账户|货到付款|到付"),
    "联系方式": re.compile(r"微信号|加(?:我|一下)?(?:的)?(?:微信|vx|v信|wx|qq|扣扣|v(?![a-z]))|vx|wx|(?<![a-z])qq|扣扣|手机|电话|热线|私聊|私下联系|联系(?:店长|老板|我)|打我|找我"),
    "商家承担费用": re.compile(r"由我们|我们(?:来)?(?:承担|出|负责|包)|(?:商家|店铺|卖家|本店|店里)(?:来)?(?:承担|出|负责)"),
    "承诺": re.compile(r"保证|承诺|包退|包换|包赔|赔偿|补偿|绝对|运费险|保价"),
}
# After these, what is given or where the money goes must be the sources' own words.
_OBJECT_CLAIMS = ("赠品", "付款方式", "联系方式")
_OBJECT_LENGTH = 10
# A way to pay is a claim of its own: the sources naming one does not allow another.
_OWN_WORDS = ("付款方式",)

_LATIN = re.compile(r"(?<![a-z0-9_.-])[a-z][a-z0-9_.-]{3,}")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s，。！？、；）)】]+"
    r"|(?<![a-z0-9.-])[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,4}\.(?:com|cn|net|org|shop|top|vip|cc|me|io|xyz|info|link)(?![a-z0-9-])(?:/[^\s，。！？、；）)】]*)?"
)

# What a sentence says is done or not done; the polarity of its subject is judged against these.
_PREDICATES = re.compile(r"包邮|运费|退换|退货|退款|换货|退|换|发货|发票|配送|寄|送达|赠|送|支持|提供|参与|参加|享受|使用|保修|质保")
_NEGATION = set("不没无非未")
# 「港澳台除外」; a negated predicate after the subject (「港澳台不包邮」) is the predicate's own negation.
_EXCEPTION_AFTER = re.compile(r"^.{0,3}?(?:除外|以外|例外)")


def canonical(text: str) -> str:
    """NFKC, lower case, no spaces, Chinese numerals before a unit (and discounts) as digits."""
    text = unicodedata.normalize("NFKC", text).lower()

    def digits(match: re.Match[str]) -> str:
        kind, token = match.lastgroup, match.group(0)
        if kind == "discount":
            value = parse_number(token.rstrip("折").strip())
            return token if value is None else discount_key(value)[1:] + "折"
        if kind == "numeral":
            values = _numeral(token)
            return number_key(values[0]) if len(values) == 1 else token
        if kind == "arabic":
            return token.replace(",", "")
        return token

    return re.sub(r"\s+", "", _FACT.sub(digits, text))


def _content(text: str) -> str:
    return "".join(ch for ch in text if ch not in _FILLER and (ch.isalnum()))


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


# A place a reply names inside a group the sources name (「港澳台除外」 covers 香港 too).
_REGION_GROUPS = {"港澳台": ("港澳", "香港", "澳门", "台湾", "台灣")}


def _as_groups(said: str, everything: str) -> str:
    """「香港也包邮」 is read as 「港澳台也包邮」 when the sources speak of 港澳台 and not of 香港, so
    the polarity check compares it with what they say of the group."""
    for group, members in _REGION_GROUPS.items():
        if group in everything:
            for member in members:
                if member not in everything:
                    said = re.sub(f"{member}(?!台)", group, said)
    return said


def unsupported_claims(draft: str, sources: Sequence[str]) -> list[str]:
    """What `draft` claims that none of `sources` supports, as short Chinese descriptions."""
    known = [canonical(s) for s in sources]
    everything = "\n".join(known)
    said = _as_groups(canonical(draft), everything)
    problems = [
        *_numbers_out_of_context(said, known),
        *_claim_words(said, everything),
        *_ids_and_links(said, everything),
        *_reversed(said, known),
        *_dropped_thresholds(said, known),
    ]
    return list(dict.fromkeys(problems))


# --- Numbers and what they count --------------------------------------------------------------


def _mentions(text: str) -> Iterator[tuple[str, str, str, str, int]]:
    """(value, unit, words before, words after, position) for each number in canonical `text`.
    The words before reach back to the clause's edge or the previous number; the words after
    count only when they reach the clause's edge: in 「不满 99 元收运费 10 元」 收运费 is 10's."""
    matches = list(_NUMBER.finditer(text))
    units, ends = [], []  # each number's unit, and where it ends: the next number's words start after it
    for match in matches:
        unit_match = _UNIT.match(text, match.end())
        units.append(_UNIT_ALIASES.get(unit_match.group(), unit_match.group()) if unit_match else "")
        ends.append(unit_match.end() if unit_match else match.end())
    # 「2–4 天」: the first number of a range counts what the second does.
    for i in range(len(matches) - 2, -1, -1):
        if not units[i] and text[ends[i] : matches[i + 1].start()] in _RANGE:
            units[i] = units[i + 1]
    previous = ""
    for i, match in enumerate(matches):
        unit, end = units[i], ends[i]
        left_limit = ends[i - 1] if i else 0
        right_limit = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        start = match.start()
        while start > left_limit and text[start - 1] not in _CLAUSE_END:
            start -= 1
        stop = end
        while stop < right_limit and text[stop] not in _CLAUSE_END:
            stop += 1
        after = _content(text[end:stop]) if stop < len(text) and stop < right_limit or stop == len(text) else ""
        before = _content(text[start : match.start()])
        if i and text[ends[i - 1] : match.start()] in _RANGE:
            before = previous  # 「其他地区 2–4 天」: 4 is 其他地区's too
        previous = before
        value = number_key(float(match.group()))
        yield value, unit, before, after, match.start()


def _compatible(context: str, other: str) -> bool:
    """Whether the words next to a number in the draft are those next to it in a source: one of
    the two characters nearest the number (不到 for 不满, 运费 for 收运费, 其他地方满 for 单笔订单满).
    A source that says nothing next to the number says nothing against it."""
    if not context or other == "|":
        return True
    return any(ch in other for ch in context)


def _numbers_out_of_context(said: str, known: Sequence[str]) -> list[str]:
    places: dict[str, list[tuple[str, str]]] = {}
    subjects: list[tuple[str, str, set[str]]] = []  # (value, unit, bigrams of the words before it)
    for text in known:
        for value, unit, before, after, _ in _mentions(text):
            places.setdefault(value, []).append((unit, before + "|" + after))
            if unit:
                subjects.append((value, unit, _bigrams(before)))
    problems = []
    for value, unit, before, after, _ in _mentions(said):
        seen = places.get(value)
        if not seen:
            continue  # a number the sources never state is grounding's to report
        same_unit = [ctx for u, ctx in seen if u == unit or not unit]
        if not same_unit:
            problems.append(f"{value}{unit}（资料里的 {value} 不是{unit or '这个单位'}）")
            continue
        own, rival = _subject_match(value, unit, before, subjects)
        context = before[-2:] or after[:2]
        if not own and not any(_compatible(context, ctx) for ctx in same_unit):
            problems.append(f"{context}{value}{unit}（资料里的 {value}{unit} 说的是别的）")
        elif rival:
            problems.append(f"{before}{value}{unit}（资料里{before}是 {rival}{unit}）")
    return problems


def _subject_match(value: str, unit: str, before: str,
                   subjects: Sequence[tuple[str, str, set[str]]]) -> tuple[int, str]:
    """How many word pairs before the draft's number are also before this value in the sources,
    and the value the sources give for those words when that is another one. Sharing a character
    with the words next to the right number is not enough: in 「其他地区 2–4 天，偏远地区 5–7 天」,
    「偏远地区 4 天」 shares 地区 with 4's words, but 偏远地区 is 5–7's. Shared pairs also let a filler
    stand between subject and number (「偏远地区一般 5 到 7 天」)."""
    mine = _bigrams(before)
    if not unit or not mine:
        return 0, ""
    own = max((len(mine & words) for v, u, words in subjects if v == value and u == unit), default=0)
    best, rival = own, ""
    for v, u, words in subjects:
        if u == unit and v != value and len(mine & words) > best:
            best, rival = len(mine & words), v
    return own, rival


# --- Offers, payment, contact, links ----------------------------------------------------------


def _claim_words(said: str, everything: str) -> list[str]:
    problems = []
    for kind, pattern in CLAIM_WORDS.items():
        matches = list(pattern.finditer(said))
        if not matches:
            continue
        if not pattern.search(everything):
            problems.append(f"{kind}：{matches[0].group()}")
            continue
        if kind in _OBJECT_CLAIMS:
            known = _bigrams(_content(everything))
            for match in matches:
                if kind in _OWN_WORDS and match.group() not in everything:  # 支付宝 stated, not 信用卡
                    problems.append(f"{kind}：{match.group()}")
                    break
                tail = said[match.end() : match.end() + _OBJECT_LENGTH]
                cut = next((i for i, ch in enumerate(tail) if ch in _CLAUSE_END), len(tail))
                obj = _content(tail[:cut])
                novel = _bigrams(obj) - known
                if novel:
                    problems.append(f"{kind}：{match.group()}{tail[:cut]}")
                    break
    return problems


def _ids_and_links(said: str, everything: str) -> list[str]:
    problems = [f"链接：{m.group()}" for m in _URL.finditer(said) if m.group() not in everything]
    problems += [f"账号：{m.group()}" for m in _LATIN.finditer(said)
                 if m.group() not in everything and not any(m.group() in p for p in problems)]
    return problems


# --- Conditions that must come along ---------------------------------------------------------

_THRESHOLD = re.compile(r"满(\d+(?:\.\d+)?)")
_STATEMENT = re.compile(r"[^。；;！!？?\n]+[?？]?")


def _dropped_thresholds(said: str, known: Sequence[str]) -> list[str]:
    """An offer the sources make from an amount on (「满 99 元全国包邮」) promised without it
    (「全国包邮哦」): a customer ordering for 50 元 would be told shipping is free. The amount must be
    said somewhere in the draft (「不满 99 元收运费」 keeps it too)."""
    offer = CLAIM_WORDS["包邮"]
    claims = [m for m in offer.finditer(said) if not _negated_before(said, m.start())]
    if not claims:
        return []
    numbers = {m.group() for m in _NUMBER.finditer(said)}
    missing = ""
    for text in known:
        for sentence in _STATEMENT.finditer(text):
            offered = [m for m in offer.finditer(sentence.group()) if not _negated_before(sentence.group(), m.start())]
            if not offered or sentence.group().endswith(("?", "？")):  # the entry's question offers nothing
                continue
            thresholds = list(_THRESHOLD.finditer(sentence.group()))
            if not thresholds:
                return []  # a source offers it outright (「金卡会员全场包邮」): another entry's 满 99 does not bind
            missing = missing or next((t.group() for t in thresholds if t.group(1) not in numbers), "")
    return [f"省略了条件：{claims[0].group()}（资料里是{missing}…）"] if missing else []


# --- Polarity on shared subjects --------------------------------------------------------------


def _negated_before(text: str, at: int, floor: int = 0) -> bool:
    # 「不满 99 元」「不包括港澳台」「除港澳台外」; not past `floor` (a predicate's own 不 is its own).
    return any(ch in _NEGATION or ch == "除" for ch in text[max(0, at - 3, floor) : at])


# Compounds that look negated and are not: 「无理由退换」 is a return, 「不限」 a permission.
_NOT_NEGATIONS = re.compile(r"无理由|无忧|无需|不限")


def _neutral(text: str) -> str:
    return _NOT_NEGATIONS.sub(lambda m: "＿" * len(m.group()), text)


def _polarity(sentence: str, gram: str, predicates: Sequence[int]) -> bool | None:
    """True when `gram` and the predicate nearest it (at one of `predicates`) are both affirmed
    or both negated, False when one of them is negated or excepted; None when `gram` is not in
    `sentence`."""
    places = [m.start() for m in re.finditer(re.escape(gram), sentence)]
    if not places or not predicates:
        return None
    at, predicate_at = min(((a, p) for a in places for p in predicates), key=lambda pair: abs(pair[0] - pair[1]))
    floor = predicate_at + 1 if predicate_at < at else 0
    subject_negated = _negated_before(sentence, at, floor) or bool(_EXCEPTION_AFTER.match(sentence[at + len(gram):]))
    predicate_negated = any(ch in _NEGATION for ch in sentence[max(0, predicate_at - 3) : predicate_at])
    return subject_negated == predicate_negated


_CLAUSE = re.compile(r"[^,，;；。!！?？\n]+")


def _claim_windows(said: str) -> Iterator[tuple[str, re.Match[str]]]:
    """(the words a predicate is said of, the predicate) for each predicate in the draft: its
    own clause, or with the clause before when it names nothing else (「港澳台的话，也包邮」)."""
    clauses = [c.group() for c in _CLAUSE.finditer(said)]
    for i, clause in enumerate(clauses):
        for predicate in _PREDICATES.finditer(clause):
            rest = _content(clause.replace(predicate.group(), ""))
            if len(rest) < 2 and i > 0:
                window = clauses[i - 1] + "," + clause
                yield window, _PREDICATES.match(window, len(clauses[i - 1]) + 1 + predicate.start())  # type: ignore[misc]
            else:
                yield clause, predicate


def _runs(text: str, grams: set[str]) -> list[str]:
    """The longest stretches of `text` made of overlapping `grams`: the subject as a whole
    (「满99元」), so that a negation is read where the subject starts."""
    runs, start = [], None
    for i in range(len(text) - 1):
        if text[i : i + 2] in grams:
            start = i if start is None else start
        elif start is not None:
            runs.append(text[start : i + 1])
            start = None
    if start is not None:
        runs.append(text[start:])
    return runs


def _reversed(said: str, known: Sequence[str]) -> list[str]:
    source_sentences = [_neutral(s.group()) for text in known for s in _SENTENCE.finditer(text)]
    problems = []
    stated = "\n".join(source_sentences)
    for window, predicate in _claim_windows(_neutral(said)):
        if _content(window) and window in stated:
            continue  # the sources' own clause: 「已发货的订单需要…」 beside their 「未发货前可以修改」
        word = predicate.group()
        own = {g for g in _bigrams(window) if _content(g) == g and not set(g) & set(word)}
        for source in source_sentences:
            where = source.find(word)
            if where < 0:
                continue
            shared = own & _bigrams(source)
            for gram in _runs(window, shared):
                if gram in source[where : where + len(word)]:
                    continue
                if gram not in source:
                    gram = gram[:2]
                mine = _polarity(window, gram, [predicate.start()])
                theirs = _polarity(source, gram, [m.start() for m in re.finditer(re.escape(word), source)])
                if mine is not None and theirs is not None and mine != theirs:
                    problems.append(f"与资料相反：{window}")
                    break
            else:
                continue
            break
    return problems
