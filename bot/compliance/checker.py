"""Say whether a draft is overly promotional, why, on what basis, and how to say it compliantly.

The score (0–100) adds points per finding by severity, caps each soft category so that lawful
promotional words alone never flag a draft, and discounts soft signals when the text is plainly a
transaction notice. A trained model (see `model.py`), when given, is blended in; findings always
come from the rules so every flag can be explained.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.compliance import rules as R
from bot.errors import DianxiaoerError

if TYPE_CHECKING:
    from bot.compliance.model import CheckerModel
    from bot.config import Settings

Channel = Literal["wechat", "weibo"]

POINTS = {"high": 50, "medium": 25, "low": 10}
# Soft categories are capped so that everyday promotional copy ("新茶上市，满200减20，欢迎到店")
# stays under the default thresholds unless it really stacks up.
CATEGORY_CAP = {"urgency": 40, "contact": 30, "spam_form": 30, "promotion": 40}
# With a trained model, below this probability of being promotion the statutory floor is lifted
# (chosen by 5-fold cross-validation on the mudou train split: anything from 0.05 to 0.5 scored alike).
STATUTORY_MIN_PROBABILITY = 0.3
# Each distinct sign of a transaction notice takes this many points off the soft signals.
TRANSACTIONAL_DISCOUNT = 20
TRANSACTIONAL_CAP = 40
# Promotion stacking: how many distinct marketing elements make a message read like a push ad.
STACKING_MIN_SIGNALS = 3
STACKING_POINTS_PER_SIGNAL = 8
# More emoji than this in one message reads as a flood even when they are spread out.
EMOJI_FLOOD_MIN = 6
# Urgency stacking: cues at most this many characters apart belong to one breath (「最后3小时！错过
# 再等一年」 has one character between its cues; two paragraphs of an article do not). Such a run is
# a stack with three distinct cues, or two and an exclamation mark; a stack lifts the urgency cap.
URGENCY_STACK_GAP = 8
# …and in a message this short every cue is in the same breath (density, not distance).
URGENCY_SHORT_TEXT = 30
URGENCY_STACK_CUES = 3
URGENCY_STACK_CAP = 60
_EXCLAIM = "！!"
_CLAUSE_END = re.compile(r"[，,。！!？?；;\n]")

SURFACES: dict[Channel, tuple[str, ...]] = {
    "wechat": ("mass", "customer_service", "template", "moments"),
    "weibo": ("post", "dm"),
}
# When the caller does not say where the copy goes, assume it may reach a customer one-to-one
# (客服消息 / 私信): the strictest reading, where marketing and unsolicited contact details are
# not allowed (广告法第四十三条, 互联网广告管理办法第十七条). Say --surface mass/post for broadcast copy.
DEFAULT_SURFACE: dict[Channel, str] = {"wechat": "customer_service", "weibo": "dm"}
SURFACE_ALIASES = {
    "群发": "mass", "群发消息": "mass", "客服": "customer_service", "客服消息": "customer_service",
    "模板": "template", "模板消息": "template", "朋友圈": "moments", "微博": "post",
    "私信": "dm", "cs": "customer_service", "kf": "customer_service",
}
SURFACE_LABELS = {
    "mass": "群发消息", "customer_service": "客服消息", "template": "模板消息", "moments": "朋友圈",
    "post": "微博正文", "dm": "私信",
}

# Categories whose presence means the text is selling something; used by the channel rules.
_SELLING = {"absolute", "price", "urgency", "inducement", "promotion", "unsourced_data", "risky_offer"}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Finding:
    rule: str
    category: str
    span: Span
    severity: R.Severity
    basis: str
    reason: str
    suggestion: str

    @property
    def category_label(self) -> str:
        return R.CATEGORY_LABELS.get(self.category, self.category)

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "category": self.category,
            "span": {"start": self.span.start, "end": self.span.end, "text": self.span.text},
            "severity": self.severity,
            "basis": self.basis,
            "reason": self.reason,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class CheckResult:
    flagged: bool
    score: int
    findings: list[Finding]
    rewrite: str
    channel: Channel = "wechat"
    surface: str = "mass"
    threshold: int = 40
    rule_score: int = 0
    model_probability: float | None = None
    # Set when the text was longer than `max_message_chars` and only its start was checked.
    note: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "flagged": self.flagged,
            "score": self.score,
            "findings": [f.as_json() for f in self.findings],
            "rewrite": self.rewrite,
        }


@dataclass(frozen=True)
class RuleScan:
    """What the rules see in one text: findings plus the numbers the model uses as features."""

    findings: list[Finding]
    score: int
    hard_points: int
    soft_points: int
    discount: int
    category_points: dict[str, int]


def resolve_surface(channel: str, surface: str | None) -> tuple[Channel, str]:
    if channel not in SURFACES:
        raise DianxiaoerError(f"未知渠道 {channel!r}，可选：wechat、weibo")
    surface_name = SURFACE_ALIASES.get(surface or "", surface) or DEFAULT_SURFACE[channel]  # type: ignore[index]
    if surface_name not in SURFACES[channel]:  # type: ignore[index]
        options = "、".join(SURFACES[channel])  # type: ignore[index]
        raise DianxiaoerError(f"渠道 {channel} 没有消息类型 {surface!r}，可选：{options}")
    return channel, surface_name  # type: ignore[return-value]


def brand_terms_from(settings: Settings | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    terms: list[str] = [t for t in extra if t]
    if settings is not None:
        terms.append(settings.shop_name)
        terms.extend(t.strip() for t in re.split(r"[,，、;；\n]", settings.check_brand_terms) if t.strip())
    return tuple(dict.fromkeys(t for t in terms if t))


def _brand_ranges(text: str, brand_terms: Sequence[str]) -> list[tuple[int, int]]:
    ranges = []
    for term in brand_terms:
        start = text.find(term)
        while start != -1:
            ranges.append((start, start + len(term)))
            start = text.find(term, start + 1)
    return _outermost(ranges)


def _outermost(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges sorted by start with every range inside another dropped: their ends then rise too,
    so one bisection finds the only range that may hold a span."""
    kept: list[tuple[int, int]] = []
    for a, b in sorted(ranges, key=lambda r: (r[0], -r[1])):
        if not kept or b > kept[-1][1]:
            kept.append((a, b))
    return kept


def _inside(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    # The last range starting at or before `start` reaches furthest among those that could hold it.
    i = bisect.bisect_right(ranges, (start, float("inf"))) - 1
    return i >= 0 and ranges[i][1] >= end


def _finding(rule: R.Rule, channel: Channel, start: int, end: int, text: str) -> Finding:
    return Finding(
        rule=rule.id, category=rule.category, span=Span(start, end, text[start:end]),
        severity=rule.severity, basis=rule.basis_for(channel), reason=rule.reason,
        suggestion=rule.suggestion,
    )


def scan(text: str, channel: Channel = "wechat", surface: str = "mass",
         brand_terms: Sequence[str] = (), replying_to: Sequence[str] | None = None) -> RuleScan:
    """Run every rule over `text` once and score what they find. `replying_to`: what the customer
    raised in the conversation a one-to-one message answers (see `check_text`)."""
    brands = _brand_ranges(text, brand_terms) if brand_terms else []
    raw: list[tuple[R.Rule, int, int]] = []
    for rule in R.RULES:
        for match in rule.pattern.finditer(text):
            start, end = match.span()
            if end == start:
                continue
            if brands and _inside(brands, start, end):
                continue
            if rule.exempt is not None and rule.exempt(text, match):
                continue
            raw.append((rule, start, end))

    # A span inside a longer one says the same thing twice (全网最低价 contains 最低). Sorted by
    # start, a span lies inside a kept one exactly when some kept span reaches its end: one pass,
    # where comparing with every kept span took a minute on 50,000 findings.
    raw.sort(key=lambda item: (item[1], -(item[2] - item[1])))
    kept: list[tuple[R.Rule, int, int]] = []
    reach = -1
    for rule, start, end in raw:
        if end <= reach:
            continue
        kept.append((rule, start, end))
        reach = end
    findings = [_finding(rule, channel, s, e, text) for rule, s, e in kept]

    selling = {m.group() for m in R.PROMO_TERMS.finditer(text)}
    calls = {m.group() for m in R.CALL_TO_ACTION.finditer(text)}
    contact_kinds = {f.rule for f in findings if f.category == "contact"}
    pressure = {f.span.text for f in findings if f.category == "urgency"}
    # A push ad sells something AND gives a way to respond; each extra element makes it pushier.
    responds = bool(contact_kinds) or bool(calls)
    signals = min(len(selling), 4) + min(len(calls), 2) + len(contact_kinds) + len(pressure)
    if selling and signals >= STACKING_MIN_SIGNALS:
        first = R.PROMO_TERMS.search(text)
        assert first is not None
        findings.append(_finding(R.STACKING, channel, first.start(), first.end(), text))

    # A countdown (最后3小时, 倒计时) is lawful once the period is stated, but stacked with more
    # pressure it still pushes: it counts towards a stack without being a finding of its own.
    countdowns = [Span(m.start(), m.end(), m.group()) for m in R.COUNTDOWN.finditer(text)]
    if stack := _urgency_stack(text, findings, countdowns):
        findings.append(_finding(R.URGENCY_STACKING, channel, stack[0], stack[1], text))

    urls = [f for f in findings if f.rule == "contact.url"]
    if len(urls) >= 2:
        findings.append(_finding(R.MANY_LINKS, channel, urls[1].span.start, urls[1].span.end, text))
    emoji = list(R.EMOJI.finditer(text))
    if len(emoji) >= EMOJI_FLOOD_MIN:
        findings.append(_finding(R.EMOJI_FLOOD, channel, emoji[0].start(), emoji[0].end(), text))

    channel_rule = {
        "template": R.CHANNEL_TEMPLATE, "customer_service": R.CHANNEL_CUSTOMER_SERVICE,
        "dm": R.CHANNEL_WEIBO_DM,
    }.get(surface)
    # Template messages may carry no marketing at all; in one-to-one messages answering a price
    # question is fine, pushing an offer with a way to respond is not.
    if channel_rule is not None:
        trigger = next((f.span for f in findings if f.category in _SELLING), None)
        if trigger is None and (m := R.PROMO_TERMS.search(text)):
            trigger = Span(m.start(), m.end(), m.group())
        pushing = surface == "template" or responds or pressure or any(
            f.category in ("inducement", "promotion") for f in findings
        )
        if trigger is not None and pushing:
            findings.append(_finding(channel_rule, channel, trigger.start, trigger.end, text))
        if surface != "template" and not R.SERVICE_CONTEXT.search(text):
            for f in [f for f in findings if f.category == "contact"]:
                findings.append(_finding(R.CHANNEL_ONE_TO_ONE_LINK, channel, f.span.start, f.span.end, text))
        # Service before selling: a one-to-one message that sells and neither serves (an answer, an
        # order) nor touches what the customer wrote about is an ad sent through the service door.
        if (replying_to is not None and surface != "template"
                and not R.SERVICE_CONTEXT.search(R.ASKED_CLAIM.sub("", R.OPT_OUT.sub("", text)))
                and not any(_answers(text, said) for said in replying_to)):
            selling_at = trigger
            if selling_at is None and (m := R.BENEFIT.search(text)):
                selling_at = Span(m.start(), m.end(), m.group())
            if selling_at is not None:
                findings.append(_finding(R.CHANNEL_UNRELATED_PROMOTION, channel, selling_at.start,
                                         selling_at.end, text))

    findings.sort(key=lambda f: (f.span.start, f.span.end))
    return _score(text, findings, signals)


# Words any tea-shop conversation shares with any push: no sign the push answers what was asked.
_GENERIC = frozenset(
    "茶叶 什么 我们 你们 您的 一下 可以 这个 那个 还有 多少 怎么 请问 谢谢 订单 发货 快递 老板 客服 "
    "现在 今天 明天 时候 没有 知道 需要 想要 一个 不是 就是 如果 因为 所以 但是 然后 已经 还是 或者 "
    "这样 那样 您好 你好 好的 麻烦 一点 有没有 是不是 可不可以 能不能 的话 一些 这边 那边".split()
)
# A question longer than this is compared on its start: enough for a topic, bounded work.
_SAID_CHARS = 200
_RUN_CHARS = 60
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}|[A-Za-z0-9]{3,}")


def shared_topic(text: str, said: str) -> str | None:
    """The longest run (two or more characters) of `said` — a topic the customer raised, such as
    「家正山小种」 or 「普洱茶」 — that `text` also names, generic words aside; None if there is none."""
    best = ""
    for run in _HAN_RUN.findall(_simplified(said[:_SAID_CHARS])):
        run = run[:_RUN_CHARS]
        for i in range(len(run)):
            # Only longer pieces than the best so far, and never shorter than two characters.
            for j in range(len(run), i + max(2, len(best) + 1) - 1, -1):
                piece = run[i:j]
                if piece not in _GENERIC and piece in text:
                    best = piece
                    break
    return best or None


# A customer asking about deals in general (「最近有优惠吗」「有什么活动」) is answered by any offer.
_DEAL_QUESTION = re.compile(r"优惠|活动|折扣|打折|便宜|促销|福利|券|划算|多少钱|价格|价钱")


def _simplified(said: str) -> str:
    # Customers in Hong Kong and Taiwan write 龍井 and 優惠; the copy and these words are Simplified.
    from bot.knowledge.normalize import to_simplified

    return to_simplified(said)


def _answers(text: str, said: str) -> bool:
    return bool(shared_topic(text, said)) or bool(_DEAL_QUESTION.search(_simplified(said)) and R.BENEFIT.search(text))


def _urgency_stack(text: str, findings: list[Finding], extra: Sequence[Span] = ()) -> tuple[int, int] | None:
    """The span of the first run of urgency cues that reads as one stacked push, if any."""
    spans = {(s.start, s.end): s for s in [*(f.span for f in findings if f.category == "urgency"), *extra]}
    cues = sorted(spans.values(), key=lambda s: s.start)
    gap = len(text) if len(text) <= URGENCY_SHORT_TEXT else URGENCY_STACK_GAP
    run: list[Span] = []
    for cue in [*cues, None]:
        if cue is not None and (not run or cue.start - run[-1].end <= gap):
            run.append(cue)
            continue
        distinct = {s.text for s in run}
        start, end = (run[0].start, run[-1].end) if run else (0, 0)
        # The mark ending the last cue's clause counts: 「赶紧下单！」 shouts as loud as one between.
        tail = _CLAUSE_END.search(text, end, end + URGENCY_STACK_GAP)
        shouted = any(c in _EXCLAIM for c in text[start:end]) or bool(tail and tail.group() in _EXCLAIM)
        if gap > URGENCY_STACK_GAP:
            shouted = shouted or any(c in _EXCLAIM for c in text)
        if len(distinct) >= URGENCY_STACK_CUES or (len(distinct) >= 2 and shouted):
            return start, end
        run = [cue] if cue is not None else []
    return None


_STATUTORY = {"absolute", "medical", "false_claim", "state_name"}
_SOFT_RULES = {r.id for r in R.RULES if r.soft} | {
    R.STACKING.id, R.MANY_LINKS.id, R.EMOJI_FLOOD.id, R.URGENCY_STACKING.id,
}


def _score(text: str, findings: list[Finding], signals: int) -> RuleScan:
    seen: set[tuple[str, str]] = set()
    per_category: dict[str, int] = {}
    soft_categories: set[str] = set()
    for f in findings:
        key = (f.rule, f.span.text)
        if key in seen:
            continue
        seen.add(key)
        points = POINTS[f.severity]
        if f.rule == R.STACKING.id:
            points = STACKING_POINTS_PER_SIGNAL * (signals - 1)
        per_category[f.category] = per_category.get(f.category, 0) + points
        if f.rule in _SOFT_RULES:
            soft_categories.add(f.category)
    hard = soft = 0
    caps = dict(CATEGORY_CAP)
    if any(f.rule == R.URGENCY_STACKING.id for f in findings):
        caps["urgency"] = URGENCY_STACK_CAP
    for category, points in per_category.items():
        points = min(points, caps.get(category, 100))
        per_category[category] = points
        if category in soft_categories:
            soft += points
        else:
            hard += points
    transactional = {m.group() for m in R.TRANSACTIONAL.finditer(text)}
    discount = min(TRANSACTIONAL_CAP, TRANSACTIONAL_DISCOUNT * len(transactional))
    score = min(100, hard + max(0, soft - discount))
    return RuleScan(findings, score, hard, soft, discount, per_category)


def threshold_for(channel: Channel, settings: Settings | None) -> int:
    from bot.config import Settings

    name = f"check_threshold_{channel}"
    if settings is not None:
        return int(getattr(settings, name))
    return int(Settings.model_fields[name].default)


def check_text(
    text: str,
    *,
    channel: Channel = "wechat",
    surface: str | None = None,
    threshold: int | None = None,
    model: CheckerModel | None = None,
    settings: Settings | None = None,
    brand_terms: Iterable[str] = (),
    polish: Callable[[str], str] | None = None,
    replying_to: Sequence[str] | None = None,
) -> CheckResult:
    """Check one draft.

    `surface` is where on the channel the message goes (wechat: mass/customer_service/template/
    moments, weibo: post/dm; Chinese names such as 群发、客服消息、模板消息、朋友圈、私信 work too),
    defaulting to the one-to-one surfaces (客服消息 / 私信), the strictest reading. `threshold` defaults to the channel's setting.
    `brand_terms` (plus the shop name and `check_brand_terms` from `settings`) are names that may
    contain words like 最 or 第一 lawfully. `polish` is an optional LLM hook that rephrases the
    deterministic rewrite; its result is used only if it passes the check too. A text longer than
    `max_message_chars` is checked on its first that many characters, and the result's `note` says so.
    `replying_to`, for a one-to-one message, is what the customer raised in the conversation it
    answers (their products or questions): a message that sells, serves nothing and names none of
    them is flagged (channel.unrelated_promotion). None means the conversation is unknown.
    """
    from bot.limits import bound_message

    bounded = bound_message(text, settings)
    text = bounded.text  # the rest is appended to the rewrite unread
    channel, surface_name = resolve_surface(channel, surface)
    limit = threshold if threshold is not None else threshold_for(channel, settings)
    brands = brand_terms_from(settings, brand_terms)
    model_weight = settings.check_model_weight if settings is not None else None

    @functools.cache  # the rewrite loop asks about the same candidate more than once
    def judge(candidate: str) -> tuple[bool, int, int, float | None, RuleScan]:
        found = scan(candidate, channel, surface_name, brands, replying_to)
        probability = None
        if model is not None:
            # The model learned from `scan`'s default reading (WeChat mass send); channel
            # etiquette reaches the score through `blend`, not through the model's features.
            plain = found if (channel, surface_name) == ("wechat", "mass") else scan(candidate, brand_terms=brands)
            probability = model.probability(candidate, plain)
        score = blend(found, probability, model_weight)
        return score >= limit, score, found.score, probability, found

    flagged, score, rule_score, probability, found = judge(text)

    from bot.compliance.rewrite import rewrite_until_clean

    if flagged or found.findings:
        rewrite = rewrite_until_clean(text, found.findings, lambda t: judge(t)[0], lambda t: judge(t)[4].findings)
        if polish is not None:
            polished = polish(rewrite)
            if polished and polished.strip() and not judge(polished)[0]:
                rewrite = polished.strip()
    else:
        rewrite = text
    # What was not read is kept as written, never dropped: a caller that offers the rewrite (a
    # reply, a push) loses nothing, and the note says that part was not checked.
    rewrite += bounded.rest
    return CheckResult(
        flagged=flagged, score=score, findings=found.findings, rewrite=rewrite, channel=channel,
        surface=surface_name, threshold=limit, rule_score=rule_score, model_probability=probability,
        note=bounded.note,
    )


def blend(found: RuleScan, probability: float | None, weight: float | None = None) -> int:
    """Combine the rule score with a trained model's probability.

    Findings on what the Advertising Law forbids outright (absolute terms, medical and false
    claims, state names) keep their points whatever the model says once the text reads as
    promotion at all: a merchant's labels can teach what reads as pushy, not what the law
    allows. Below `STATUTORY_MIN_PROBABILITY` the text is a notice, not an advertisement
    (a lottery result "最大为5注", a ticket for 《极品飞车》), and the law's ad rules do not reach
    it; the findings are still listed. Everything else — channel etiquette, contact details,
    urgency — is what the merchant's own labels are best placed to judge.
    """
    if probability is None:
        return found.score
    from bot.compliance.model import DEFAULT_MODEL_WEIGHT

    w = DEFAULT_MODEL_WEIGHT if weight is None else weight
    mixed = round(w * 100 * probability + (1 - w) * found.score)
    statutory = sum(
        POINTS["high"] for f in {(f.rule, f.span.text): f for f in found.findings}.values()
        if f.severity == "high" and f.rule not in _SOFT_RULES and f.category in _STATUTORY
    )
    if probability < STATUTORY_MIN_PROBABILITY:
        statutory = 0
    return max(0, min(100, max(mixed, min(statutory, 100))))
