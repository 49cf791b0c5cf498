"""Deterministic, offline rewrite of a flagged draft into compliant copy.

Word-level fixes first (最好 → 很好, 跳楼价 → 优惠价, ！！！ → ！), whole clauses dropped for claims
that cannot be softened (降血压, 转发集赞). The result is checked again; only if it is still
flagged do we remove lawful-but-pushy parts (phone numbers, links) and then whole clauses, so a
plain service reply keeps its contact details.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot.compliance import rules as R

if TYPE_CHECKING:
    from bot.compliance.checker import Finding

_RULES_BY_ID = {r.id: r for r in R.RULES} | {
    r.id: r for r in (R.STACKING, R.URGENCY_STACKING, R.MANY_LINKS, R.EMOJI_FLOOD, R.CHANNEL_TEMPLATE,
                      R.CHANNEL_CUSTOMER_SERVICE, R.CHANNEL_WEIBO_DM,
                      R.CHANNEL_ONE_TO_ONE_LINK, R.CHANNEL_UNRELATED_PROMOTION)
}

_CLAUSE = re.compile(r"[^，,。！!？?；;\n]+[，,。！!？?；;\n]*|[，,。！!？?；;\n]+")
MAX_LEVEL = 3
# A clause that a cut leaves this short, with no figure or benefit of its own, is a stub: 「这批茶
# 数量有限」 → 「这批茶」, 「详询13800001234」 → 「详询」. It goes with what was cut.
STUB_CHARS = 4
# Price claims that, standing alone in their clause, say nothing once softened: 「全网最低价，3月20日
# 前有效」 → 「实惠价格，3月20日前有效」 promises a price nobody stated until a date.
_VAGUE_WHEN_ALONE = {"price.lowest", "price.fraud_words"}
_CORE = re.compile(r"[\s\W_]+")


def clauses(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _CLAUSE.finditer(text)]


def _clause_of(spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    # Clauses tile the text in order, so bisection finds them (a scan per finding is quadratic).
    i = bisect.bisect_right(spans, (start, float("inf"))) - 1
    first = spans[i][0] if i >= 0 and start < spans[i][1] else start
    j = bisect.bisect_left(spans, (end, -1)) - 1
    last = spans[j][1] if j >= 0 and spans[j][0] < end <= spans[j][1] else end
    return first, last


def apply_fixes(text: str, findings: Sequence[Finding], level: int = 0) -> str:
    """One rewrite pass. Level 0 fixes what is wrong; higher levels also cut what is pushy."""
    spans = clauses(text)
    edits: list[tuple[int, int, str]] = []
    planned: list[tuple[Finding, str]] = []
    for f in findings:
        rule = _RULES_BY_ID.get(f.rule)
        if rule is None:
            continue
        fix = rule.fix
        if level >= 2 and fix != "replace":
            fix = "drop_clause"
        if fix == "drop_if_needed":
            fix = "drop" if level >= 1 else "keep"
        planned.append((f, fix))
    # What each clause keeps once every planned drop and lone vague claim is taken out of it.
    cut: dict[tuple[int, int], list[tuple[int, int]]] = {}
    vague: set[tuple[int, int]] = set()
    # A call whose channel was cut (「加微信tea888领券」 → 「领券」) is a stub even naming a benefit.
    uncalled: set[tuple[int, int]] = set()
    for f, fix in planned:
        if fix == "drop" or (fix == "replace" and f.rule in _VAGUE_WHEN_ALONE):
            clause = _clause_of(spans, f.span.start, f.span.end)
            cut.setdefault(clause, []).append((f.span.start, f.span.end))
            if fix == "replace":
                vague.add(clause)
            if f.category == "contact":
                uncalled.add(clause)
    # A softened claim keeps its clause unless nothing else is in it (「实惠价格的龙井」 still says something).
    stubs = {clause for clause, cuts in cut.items()
             if _is_stub(text, clause, cuts, 0 if clause in vague else STUB_CHARS, clause in uncalled)}
    for f, fix in planned:
        start, end = f.span.start, f.span.end
        clause = _clause_of(spans, start, end)
        if clause in stubs and fix in ("drop", "replace"):
            edits.append((clause[0], clause[1], ""))
        elif fix == "replace":
            rep = _RULES_BY_ID[f.rule].replacement
            edits.append((start, end, rep(f.span.text) if callable(rep) else rep))
        elif fix == "drop":
            edits.append((start, end, ""))
        elif fix == "drop_clause":
            edits.append((clause[0], clause[1], ""))
    if level >= 3:
        # Last resort: remove every clause that still sells.
        for pattern in (R.PROMO_TERMS, R.CALL_TO_ACTION):
            for m in pattern.finditer(text):
                a, b = _clause_of(spans, m.start(), m.end())
                edits.append((a, b, ""))
    return tidy(_apply(text, edits))


def _is_stub(text: str, clause: tuple[int, int], cuts: list[tuple[int, int]], most: int,
             benefit_too: bool = False) -> bool:
    """Whether `clause` minus `cuts` is a stub: a few characters with no figure or benefit."""
    a, b = clause
    keep = [True] * (b - a)
    for start, end in cuts:
        for i in range(max(start, a), min(end, b)):
            keep[i - a] = False
    rest = "".join(ch for ch, k in zip(text[a:b], keep) if k)
    core = _CORE.sub("", rest)
    return len(core) <= most and not re.search(r"\d", core) and (benefit_too or not R.BENEFIT.search(core))


def without_orphaned_terms(original: str, rewritten: str) -> str:
    """`rewritten` without the clauses that state an offer's terms (a deadline, a condition) once
    the rewrite cut every benefit `original` offered: such terms would refer to nothing, or seem to
    attach to whatever is left. Terms the merchant wrote with no offer at all are theirs to keep."""
    parts = [rewritten[a:b] for a, b in clauses(rewritten)]
    # A clause stating the offer and its terms at once (「3月20日前满200减20」) is the offer itself.
    kept = [p for p in parts if not R.OFFER_TERMS.search(p) or _states_benefit(p)]
    # 「凭截图到店领取」 names a benefit only as a term of the offer; what is offered lives elsewhere.
    if len(kept) == len(parts) or not R.BENEFIT.search(original) or any(_states_benefit(p) for p in kept):
        return rewritten
    return tidy("".join(kept))


def _states_benefit(clause: str) -> bool:
    return bool(R.BENEFIT.search(R.OFFER_TERMS.sub("", clause)))


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    # Wider edits win over edits inside them; overlapping ones are left for the next pass.
    edits.sort(key=lambda e: (e[0], -(e[1] - e[0])))
    chosen: list[tuple[int, int, str]] = []
    for start, end, rep in edits:
        if chosen and start < chosen[-1][1]:
            continue
        chosen.append((start, end, rep))
    out, pos = [], 0
    for start, end, rep in chosen:
        out.append(text[pos:start])
        out.append(rep)
        pos = end
    out.append(text[pos:])
    return "".join(out)


_TIDY_STEPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"【\s*】|（\s*）|\(\s*\)|\[\s*\]|「\s*」|“\s*”"), ""),
    (re.compile(r"[，,、]\s*([。！!？?；;])"), r"\1"),
    (re.compile(r"([，,、：:])\s*[，,、]+"), r"\1"),
    (re.compile(r"([。！!？?；;])\s*[，,、。；;]+"), r"\1"),
    (re.compile(r"([【（(\[「“])\s*[，,、。！!？?；;：:]+"), r"\1"),
    (re.compile(r"(?<![，,、：:])[，,、：:]+\s*([】）)\]」”])"), r"\1"),
    (re.compile(r"([!！?？])\1+"), r"\1"),
    (re.compile(r"[ \t]{2,}"), " "),
    (re.compile(r"^[\s，,、。！!？?；;：:]+"), ""),
    # The lookbehinds keep these linear: a run is tried once from its start, not from each character.
    (re.compile(r"(?<![\s，,、：:；;])[\s，,、：:；;]+$"), ""),
)


def tidy(text: str) -> str:
    """Make text read well after spans were removed: no orphan punctuation or empty brackets."""
    previous = None
    while previous != text:
        previous = text
        for pattern, rep in _TIDY_STEPS:
            text = pattern.sub(rep, text)
    text = text.strip()
    # A clause dropped at the end may leave the last sentence without a full stop.
    if text and text[-1] not in "。！!？?…）)】」”~～" and not text[-1].isascii():
        text += "。"
    return text


# Findings that are pushy style only; a passing rewrite may keep them (a shop phone number).
_PUSHY_ONLY = {"contact.phone", "contact.url", "form.links", "form.emoji_count"}


def _must_fix(finding: Finding) -> bool:
    rule = _RULES_BY_ID.get(finding.rule)
    return (
        rule is not None and rule.fix != "keep" and finding.severity != "low"
        and finding.rule not in _PUSHY_ONLY
    )


def rewrite_until_clean(
    text: str,
    findings: Sequence[Finding],
    is_flagged: Callable[[str], bool],
    findings_of: Callable[[str], Sequence[Finding]],
) -> str:
    """Rewrite in passes of increasing force until the text passes and no real finding is left.

    Passing the threshold is not enough on its own: a statutory finding (a 最 word left behind by
    an overlapping edit) is fixed even when the score is already low.
    """
    current = apply_fixes(text, findings, level=0)
    for level in range(MAX_LEVEL + 1):
        remaining = findings_of(current)
        if not is_flagged(current) and not any(_must_fix(f) for f in remaining):
            break
        current = apply_fixes(current, remaining, level=level)
    return without_orphaned_terms(text, current)
