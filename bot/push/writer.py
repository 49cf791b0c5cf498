"""Draft push copy: personalised, checked for its surface, within the caps, every fact traceable.

This is the service the CLI and the Telegram adapter call:

    writer = PushWriter(settings, engine=engine, knowledge=knowledge)
    result = writer.draft(channel="wechat", fmt="service", brief="…", customer_ref="C001")
    result.as_json()  # {"drafts": [...], "refused": [...]}

A draft is offered only when (1) the checker passes it for its channel and surface — a flagged
draft is rewritten and checked again, and the brief itself is cleaned first, so a brief asking
for 全网最低价 or 转发集赞 still gets compliant copy, with the findings saying what was dropped;
(2) every fact in it (number, offer, date word) is in the brief or a cited FAQ entry; (3) it fits
the format's limits. Customers who opted out or are over a cap get a reason and the next allowed
time instead; a brief the checker would have to cut to almost nothing raises `UnusableBrief` (a
`DianxiaoerError`, one line at the edge). Templates (prompts/push/) write the copy offline; with
an LLM configured it writes first and the templates take over whenever its draft fails any of
the three. Drafts are stored as pending `Draft(kind="push")` rows for staff to decide on.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.compliance.checker import CheckResult, Finding, check_text, shared_topic
from bot.compliance.frequency import CUSTOMER_SERVICE_WINDOW, WEIBO_DM_WINDOW
from bot.compliance.rules import ASKED_CLAIM
from bot.compliance.push_policy import broadcast_decision, push_decision
from bot.config import Settings
from bot.errors import DianxiaoerError
from bot.knowledge.entries import Hit
from bot.memory import crud
from bot.memory.models import Customer, utcnow
from bot.push import templates as T
from bot.push.facts import OFFER_WORDS, TIME_WORDS, facts, unsupported
from bot.push.formats import PushFormat, push_format
from bot.push.profile import Profile, build_profile, cached_topic, recent_messages, tier_benefit, tier_of
from bot.push.tips import care_tip

logger = logging.getLogger(__name__)

MAX_VARIANTS = 5
MAX_BRIEF_CHARS = 2000
# A brief the checker had to cut below this share of its characters (or of every fact it stated)
# gets no draft but a reason: a greeting around 「谢谢您上次的咨询。」 is not the message meant.
HOLLOW_SHARE = 0.3
# …or cut every fact it stated and left fewer characters than this: a product's news in a sentence
# of its own (「今年的明前龙井到货了，汤色清亮」) is still worth sending once its unlawful offer is gone.
HOLLOW_MIN_CHARS = 12
HEADLINE_CHARS = 40
HEADLINE_MIN = 8
SUMMARY_CHARS = 100
# "Soften": the checker's threshold is halved, so copy that merely leans promotional is rewritten.
SOFT_THRESHOLD_FACTOR = 0.5
_TOPIC = re.compile(r"#([^#\n]{1,30})#")
# A one-to-one message answers the conversation the customer opened in this window (the platforms'
# own: 客服消息 48 hours, 微博私信 the 7 days 店小二 allows).
CONVERSATION_WINDOW = {"service": CUSTOMER_SERVICE_WINDOW, "dm": WEIBO_DM_WINDOW}
# How many of the customer's latest messages a one-to-one push may answer.
CONVERSATION_MESSAGES = 10
_TIP_KEY = "\0tip"
# A clause of the brief addressed to 店小二 rather than to customers (「折扣你看着定」「再编个销量数字」
# 「语气活泼点」): pasted into the copy it would read as the shop talking to itself. Customers are
# addressed as 您 in copy, so 你 + a writing verb is the merchant talking to the writer.
_ASIDE = re.compile(
    r"你(?:来|帮我?|给我|看着|自己|随便|就)?(?:定|写|编|想|拟|发挥|决定|办)"
    r"|帮我|替我|编(?:个|一个|些|点|几个|一些)|显得|随便写|(?:写|发)(?:一|个)(?:条|篇|段)"
    r"|语气|文案|措辞|口吻"
)
_CLAUSE = re.compile(r"[^，,；;。！!？?\n]+[，,；;。！!？?\n]*")
_SENTENCE_END = "。！？!?…~～）)】」”"


@dataclass
class PushDraft:
    text: str
    title: str | None
    digest: str | None
    channel: str
    format: str
    customer: str | None
    check: CheckResult
    dropped: list[Finding]  # found in the brief or a first draft, now rewritten away
    sources: list[Hit]
    changed: bool
    draft_id: int | None = None
    # How many customers it goes to: 1 for one customer, the allowed members of a segment for a
    # segment's one text (recorded as the stored draft's recipients), None for every follower.
    recipients: int | None = None
    via: str = "template"  # or "llm"
    note: str | None = None  # e.g. why an LLM draft was replaced by a template one

    def as_json(self) -> dict[str, object]:
        findings = [f.as_json() for f in self.check.findings]
        findings += [{**f.as_json(), "dropped": True} for f in self.dropped]
        return {
            "text": self.text,
            "title": self.title,
            "digest": self.digest,
            "channel": self.channel,
            "format": self.format,
            "customer": self.customer,
            "check": {"flagged": self.check.flagged, "score": self.check.score, "findings": findings},
            "sources": [{"id": h.id, "question": h.question} for h in self.sources],
            "changed": self.changed,
            "draft_id": self.draft_id,
            "recipients": self.recipients,
            "via": self.via,
            "note": self.note,
        }


@dataclass
class Refusal:
    customer: str
    reason: str
    next_allowed_at: datetime | None

    def as_json(self) -> dict[str, object]:
        when = self.next_allowed_at.isoformat() if self.next_allowed_at else None
        return {"customer": self.customer, "reason": self.reason, "next_allowed_at": when}


class UnusableBrief(DianxiaoerError):
    """The checker had to cut most of the brief for this surface: no draft would say it."""

    def __init__(self, message: str, findings: list[Finding]) -> None:
        super().__init__(message)
        self.findings = findings


@dataclass
class PushResult:
    drafts: list[PushDraft] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"drafts": [d.as_json() for d in self.drafts],
                "refused": [r.as_json() for r in self.refused]}


@dataclass(frozen=True)
class _Brief:
    text: str  # cleaned for the surface
    dropped: list[Finding]
    note: str | None = None  # what the merchant should re-read in the cleaned brief
    # For a one-to-one message: what the customer wrote in the window, which the copy must answer.
    replying_to: tuple[str, ...] | None = None
    raised: str | None = None  # the product of that conversation this push is about, if any

    @property
    def changed(self) -> bool:
        return bool(self.dropped)


def customer_label(customer: Customer) -> str:
    return customer.ref or customer.display_name


class PushWriter:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        knowledge: Any | None = None,  # anything with .search(query, top_k) -> list[Hit]
        chat_model: Any | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.knowledge = knowledge
        self.chat_model = chat_model
        self.templates_dir = settings.prompts_dir / "push"

    # -- the API ---------------------------------------------------------------------------

    def draft(
        self,
        *,
        channel: str,
        fmt: str,
        brief: str,
        customer_ref: str | None = None,
        segment: str | None = None,
        variants: int = 1,
        soften: bool = False,
        seed: int = 0,
        now: datetime | None = None,
        store: bool = True,
    ) -> PushResult:
        """Draft `variants` pushes for `brief`; `seed` picks other templates ("regenerate"),
        `soften` uses the lower-key templates and a stricter check."""
        spec = push_format(channel, fmt)
        brief = (brief or "").strip()
        if not brief:
            raise DianxiaoerError("简报是空的：请写明这次要告诉客户什么（商品、活动、时间、条件）")
        if len(brief) > MAX_BRIEF_CHARS:
            raise DianxiaoerError(f"简报太长（{len(brief)} 字），最多 {MAX_BRIEF_CHARS} 字")
        if not 1 <= variants <= MAX_VARIANTS:
            raise DianxiaoerError(f"--variants 应在 1 到 {MAX_VARIANTS} 之间")
        if customer_ref and segment:
            raise DianxiaoerError("--customer 和 --segment 只能选一个")
        # 「！！！」 is spam form on every surface (the checker scores it, but under a Weibo post's
        # threshold it would stay); one mark says the same.
        brief = re.sub(r"[！!]{2,}", "！", brief).lstrip("！!？? ")
        extra_topics: list[str] = []
        if spec.topics is not None:
            brief, extra_topics = _at_most_topics(brief, spec.topics[1])
        brief, asides = _without_asides(brief)
        if not brief:
            raise DianxiaoerError(
                f"简报里只有写给店小二的要求（{'；'.join(asides)}），没有要告诉客户的内容；"
                "请直接写要告诉客户的事：商品、活动、时间、条件"
            )
        aside_note = "；".join(
            ([f"简报里写给店小二的话没有写进草稿：{'；'.join(f'「{a}」' for a in asides)}"] if asides else [])
            + ([f"{spec.label}最多带 {spec.topics[1]} 个话题，没有用上：{' '.join(extra_topics)}"]
               if spec.topics and extra_topics else [])
        ) or None
        now = now or utcnow()
        templates = T.load_templates(self.templates_dir, spec.key)
        tset = templates.soft if soften else templates.normal
        threshold = self._threshold(channel, soften)
        result = PushResult()

        with Session(self.engine, expire_on_commit=False) as session:
            targets = self._targets(session, spec, customer_ref, segment)
            allowed: list[Customer] = []
            for person in targets:
                decision = push_decision(session=session, customer=person, channel=spec.cap,
                                         settings=self.settings, now=now)
                if decision.allowed:
                    allowed.append(person)
                else:
                    result.refused.append(
                        Refusal(customer_label(person), decision.reason, decision.next_allowed_at)
                    )
            if targets and not allowed:
                return result
            if not targets:
                # To everyone: no one to refuse by name, so a cap or quiet hours stop the whole push.
                decision = broadcast_decision(session=session, channel=spec.cap, settings=self.settings, now=now)
                if not decision.allowed:
                    raise DianxiaoerError(f"现在不能发{spec.label}：{decision.reason}")
            clean = self._usable_brief(brief, spec, threshold, soften)
            benefits: dict[str, tuple[str, Hit] | None] = {}
            entry_question = self._entry_question()

            def compose(person: Customer | None, brief: _Brief = clean) -> list[PushDraft]:
                profile = (build_profile(session=session, customer=person, entry_question=entry_question)
                           if person is not None else None)
                drafts = self._variants(spec, tset, brief, profile, segment, variants, seed, threshold,
                                        benefits)
                for d in drafts:
                    d.note = "；".join(n for n in (aside_note, clean.note, d.note) if n) or None
                    d.customer = customer_label(person) if person is not None else None
                    d.recipients = 1 if person is not None else (len(allowed) if segment else None)
                return drafts

            if spec.per_customer:
                for person in list(allowed):
                    said = self._conversation(session, spec, person, now)
                    # Judged on the brief as written: 「明前龙井全网最低价！」 is about 龙井 even where the
                    # surface's rules cut the clause naming it.
                    unrelated = self._unrelated(brief, spec, threshold, said)
                    if unrelated is not None:
                        # Service before selling: this customer's conversation is about something else.
                        allowed.remove(person)
                        result.refused.append(Refusal(customer_label(person), unrelated, None))
                        continue
                    drafts = compose(person, dataclasses.replace(clean, replying_to=tuple(said),
                                                                 raised=_raised_topic(brief, said)))
                    if not drafts:
                        result.refused.append(
                            Refusal(customer_label(person), "没有能通过合规检查的草稿，请改写简报", None)
                        )
                    result.drafts.extend(drafts)
            else:
                # One text for everyone; personalised only when it was asked for one customer.
                drafts = compose(allowed[0] if customer_ref and allowed else None)
                if not drafts:
                    raise DianxiaoerError(
                        f"没有能通过合规、事实和字数检查的{spec.label}草稿，请改写或缩短简报"
                    )
                result.drafts.extend(drafts)
            if store and result.drafts:
                members = allowed if segment else []
                self._store(session, spec, result.drafts, {customer_label(p): p for p in allowed}, members)
                session.commit()
        return result

    # -- targets and brief -----------------------------------------------------------------

    def _targets(self, session: Session, spec: PushFormat, customer_ref: str | None,
                 segment: str | None) -> list[Customer]:
        if customer_ref:
            person = crud.find_customer(session=session, ref=customer_ref)
            if person is None:
                raise DianxiaoerError(f"找不到客户：{customer_ref}（先用 dianxiaoer customers import 导入）")
            return [person]
        if segment:
            people = crud.list_customers(session=session, tag=segment)
            if not people:
                raise DianxiaoerError(f"没有带标签「{segment}」的客户")
            return people
        if spec.per_customer:
            raise DianxiaoerError(f"{spec.label}是一对一消息，需要 --customer 或 --segment")
        return []

    def _threshold(self, channel: str, soften: bool) -> int:
        base = int(getattr(self.settings, f"check_threshold_{channel}"))
        return int(base * SOFT_THRESHOLD_FACTOR) if soften else base

    def _check(self, text: str, spec: PushFormat, threshold: int,
               replying_to: Sequence[str] | None = None, name: str = "") -> CheckResult:
        # The customer's name is left alone like a brand: 「最好的时光，您好」 greets a person, and a
        # rewrite would greet 「很好的时光」.
        return check_text(text, channel=spec.channel, surface=spec.surface,  # type: ignore[arg-type]
                          threshold=threshold, settings=self.settings, replying_to=replying_to,
                          brand_terms=[name] if name else ())

    def _conversation(self, session: Session, spec: PushFormat, person: Customer, now: datetime) -> list[str]:
        assert person.id is not None
        return recent_messages(session=session, customer_id=person.id, channel=spec.channel,
                               since=now - CONVERSATION_WINDOW[spec.name], limit=CONVERSATION_MESSAGES)

    def _unrelated(self, brief: str, spec: PushFormat, threshold: int, said: list[str]) -> str | None:
        """Why `brief` may not go to this customer one-to-one, if it sells something their recent
        conversation (`said`) is not about; None when it answers or serves them."""
        found = self._check(brief, spec, threshold, said)
        if not any(f.rule == "channel.unrelated_promotion" for f in found.findings):
            return None
        latest = said[0] if said else ""
        quoted = f"「{latest[:30]}{'…' if len(latest) > 30 else ''}」" if latest else "（没有具体内容）"
        return (f"{spec.label}只用来回应客户最近的咨询，TA 最近说的是{quoted}，这条简报与之无关；"
                "营销内容请改用公众号群发图文（--format article）、朋友圈或微博正文")

    def _usable_brief(self, brief: str, spec: PushFormat, threshold: int, soften: bool) -> _Brief:
        """The brief as the checker lets it through for this surface; `UnusableBrief` when that
        leaves too little of it."""
        if soften:
            brief = re.sub(r"[！!]+", "。", brief)
        found = self._check(brief, spec, threshold)
        if not _needs_rewrite(found):
            return _Brief(brief, [])
        clean = _Brief(found.rewrite, list(found.findings), _orphaned_terms(brief, found.rewrite))
        if _hollow(brief, clean.text):
            # Name what was cut, not a stacking element (「上新」) the cleaned brief still says.
            spans = {f.span.text: f.category_label for f in _gone(clean.dropped, [clean.text])}
            why = "；".join(f"「{span}」{label}" for span, label in list(spans.items())[:5])
            other = "；一对一消息不能推销，营销内容请改用公众号群发图文或微博正文" if spec.per_customer else ""
            left = f"「{clean.text}」" if _core(clean.text) else "什么也不剩"
            raise UnusableBrief(
                f"简报的主要内容不能用于{spec.label}（{why}），去掉后只剩{left}，不足以成文；请改写简报{other}",
                clean.dropped,
            )
        return clean

    def _entry_question(self) -> Any:
        lexical = getattr(self.knowledge, "lexical", None) if self.knowledge is not None else None
        entries = getattr(lexical, "entries", None) if lexical is not None else None
        if not entries:
            return None
        return lambda entry_id: (entries.get(entry_id) or {}).get("question")

    # -- composing -------------------------------------------------------------------------

    def _variants(self, spec: PushFormat, tset: T.TemplateSet, brief: _Brief, profile: Profile | None,
                  segment: str | None, variants: int, seed: int, threshold: int,
                  benefits: dict[str, tuple[str, Hit] | None]) -> list[PushDraft]:
        values, sources = self._values(spec, brief.text, profile, segment, benefits, bool(tset.tip_lines),
                                       brief.raised)
        fact_sources = [brief.text, *(h.answer for h in sources), self.settings.shop_name,
                        values["name"], values["topics"], *(profile.tags if profile else [])]
        drafts: list[PushDraft] = []
        seen: set[str] = set()
        llm_note: str | None = None
        for n in range(variants):
            if self.chat_model is not None:
                # The model is not shown the care tip, so nothing of its entry may pass as cited.
                untipped = [h for h in sources if h.id != values["tip_id"]]
                llm_facts = [brief.text, *(h.answer for h in untipped), *fact_sources[1 + len(sources):]]
                drafted, llm_note = self._from_llm(spec, values, brief, untipped, llm_facts, threshold, n)
                if drafted is not None and drafted.text not in seen:
                    seen.add(drafted.text)
                    drafts.append(drafted)
                    continue
            # Try the n-th combination first, then the others, until one passes every check.
            for attempt in range(max(tset.size, 1) * 2):
                offset = seed + n + attempt * variants
                drafted = self._from_templates(spec, tset, values, brief, sources, fact_sources,
                                               threshold, offset)
                if drafted is not None and drafted.text not in seen:
                    drafted.note = llm_note
                    seen.add(drafted.text)
                    drafts.append(drafted)
                    break
        return drafts

    def _values(self, spec: PushFormat, brief: str, profile: Profile | None, segment: str | None,
                benefits: dict[str, tuple[str, Hit] | None],
                wants_tip: bool = False, raised: str | None = None) -> tuple[dict[str, str], list[Hit]]:
        # A broadcast is read by many, so it greets them all even when drafted for one customer.
        name = profile.name if profile and spec.per_customer else None
        hello = f"{name}，您好" if name else ("您好" if spec.per_customer else "大家好")
        # Moments, articles and posts are read by everyone: one customer's tier or interests
        # would be published, so only a segment personalises them.
        private = profile if profile and spec.per_customer else None
        interests = list(private.interests) if private else []
        if segment and not tier_of_tag(segment):
            interests.append(re.sub(r"(爱好者|控|粉丝|粉|迷|党)$", "", segment))
        # Name an interest only when this push is about it: the customer is the subject. A one-to-one
        # message leads with what the customer themselves raised in the conversation it answers.
        interest = raised or next((i for i in interests if i and i in brief), "")
        tier = (private.tier if private else None) or (segment if segment and tier_of_tag(segment) else None)
        sources: list[Hit] = []
        benefit = ""
        if tier:
            # One search per tier per call, not per customer of a segment.
            if tier not in benefits:
                benefits[tier] = tier_benefit(tier, getattr(self.knowledge, "search", None))
            found = benefits[tier]
            if found is not None:
                benefit, hit = found
                sources.append(hit)
        tip = tip_question = tip_id = ""
        if wants_tip:
            # Cached with the tiers' benefits (the key cannot be a tier): one search per call.
            if _TIP_KEY not in benefits:
                benefits[_TIP_KEY] = care_tip(_TOPIC.sub(lambda m: m.group(1), brief),
                                              getattr(self.knowledge, "search", None), cached_topic)
            found = benefits[_TIP_KEY]
            if found is not None:
                tip, hit = found
                tip_question, tip_id = hit.question, hit.id
                sources.append(hit)
        text = _end(brief)
        topics_in_brief = _TOPIC.findall(brief)
        topics = ""
        if spec.topics is not None and not topics_in_brief:
            product = _trim_at_time_word(_product(brief), brief)
            # #限时秒杀# or #包邮# as a topic would broadcast the selling, not the subject.
            if any(word in product for word in OFFER_WORDS + TIME_WORDS):
                product = ""
            names = [self.settings.shop_name, interest or product]
            topics = " ".join(f"#{t}#" for t in dict.fromkeys(t for t in names if t))
        return {
            "hello": hello,
            "name": name or "",
            "shop": self.settings.shop_name,
            "brief": text,
            "headline": _headline(brief),
            "summary": _summary(brief),
            "interest": interest,
            "raised": "yes" if raised or (profile and profile.raised(interest)) else "",
            "tier": tier or "",
            "benefit": benefit,
            "tip": tip,
            "tip_question": tip_question,
            "tip_id": tip_id,
            "interest_line": "",
            "benefit_line": "",
            "tip_line": "",
            "topics": topics,
        }, sources

    def _from_templates(self, spec: PushFormat, tset: T.TemplateSet, values: dict[str, str], brief: _Brief,
                        sources: list[Hit], fact_sources: list[str], threshold: int, n: int) -> PushDraft | None:
        # With the optional lines, then without: they go first when the text is too long or reads
        # as too much selling, because the brief is what must be said.
        candidates: list[dict[str, str]] = []
        shortest = 0
        for keep_interest, keep_benefit, keep_tip in ((True, True, True), (True, False, True),
                                                      (True, False, False), (False, False, False)):
            filled = dict(values)
            lines = "asked_lines" if values["raised"] and tset.asked_lines else "interest_lines"
            line = T.render(tset.pick(lines, n), values) if keep_interest and values["interest"] else ""
            # 「聊聊普洱：」 before a brief that opens 「聊聊普洱：…」 says it twice.
            # 「记得您之前问过普洱茶饼，」 before 「您上次问的普洱茶饼…」: the brief already leads with it.
            first = _CLAUSE.match(values["brief"] + "。").group(0)  # type: ignore[union-attr]
            opens_with = bool(values["interest"] and values["interest"] in first and ASKED_CLAIM.search(first))
            filled["interest_line"] = "" if line and (_core(line) in _core(values["brief"]) or opens_with) else line
            filled["benefit_line"] = (T.render(tset.pick("benefit_lines", n), values)
                                      if keep_benefit and values["benefit"] else "")
            filled["tip_line"] = (T.render(tset.pick("tip_lines", n), values)
                                  if keep_tip and values["tip"] else "")
            filled["body"] = _join(T.render(tset.pick(p, n), filled) for p in ("openings", "bodies", "closings"))
            shortest = len(filled["body"])
            if shortest <= spec.max_chars and filled["body"] not in (c["body"] for c in candidates):
                candidates.append(filled)
        if not candidates:
            raise DianxiaoerError(
                f"简报太长：{spec.label}最多 {spec.max_chars} 字，加上称呼和结尾后有 {shortest} 字；请缩短简报"
            )
        # A draft that passes as composed beats one the checker has to cut.
        for allow_rewrite in (False, True):
            for filled in candidates:
                title = T.render(tset.pick("titles", n), filled) if spec.title_chars else None
                digest = T.render(tset.pick("digests", n), filled) if spec.digest_chars else None
                # Cited only when its words are in this body: a soft body may leave the line out.
                used = [h for h in sources if (filled["tip_line"] if h.id == values["tip_id"]
                                                else filled["benefit_line"]) in filled["body"]
                        and (filled["tip_line"] if h.id == values["tip_id"] else filled["benefit_line"])]
                drafted = self._finish(spec, filled["body"], title, digest, brief, used, fact_sources,
                                       threshold, "template", allow_rewrite=allow_rewrite,
                                       name=values["name"])
                if drafted is not None:
                    return drafted
        return None

    def _from_llm(self, spec: PushFormat, values: dict[str, str], brief: _Brief, sources: list[Hit],
                  fact_sources: list[str], threshold: int, n: int) -> tuple[PushDraft | None, str | None]:
        from langchain_core.messages import HumanMessage, SystemMessage

        from bot.drafting.prompts import load_prompt

        prompt = load_prompt(self.templates_dir, "llm")
        system, user = prompt.render(
            shop_name=values["shop"], format_label=spec.label, max_chars=spec.max_chars,
            hello=values["hello"], brief=values["brief"], interest=values["interest"] or "（无）",
            benefit=(f"{values['tier']}：{values['benefit']}" if values["benefit"] else "（无）"),
            topics=values["topics"] or "（无）", variant=n + 1,
        )
        try:
            reply = self.chat_model.invoke([SystemMessage(system), HumanMessage(user)])  # type: ignore[union-attr]
        except Exception as exc:  # a network or provider failure must not cost the merchant a draft
            logger.info("LLM push draft failed: %s", type(exc).__name__)
            return None, f"大模型不可用（{type(exc).__name__}），改用模板"
        text = str(getattr(reply, "content", "")).strip()
        title = digest = None
        if spec.title_chars:
            title, digest = values["headline"], values["summary"]
        if len(text) > spec.max_chars or not text:
            return None, f"大模型草稿超出{spec.label}的 {spec.max_chars} 字上限，改用模板"
        used = [h for h in sources if h.id != values["tip_id"] and values["benefit"] and values["benefit"] in text]
        drafted = self._finish(spec, text, title, digest, brief, used, fact_sources, threshold, "llm",
                               name=values["name"])
        if drafted is None:
            return None, "大模型草稿含有简报和知识库之外的事实或未通过合规检查，改用模板"
        return drafted, None

    def _finish(self, spec: PushFormat, body: str, title: str | None, digest: str | None, brief: _Brief,
                sources: list[Hit], fact_sources: list[str], threshold: int, via: str,
                allow_rewrite: bool = True, name: str = "") -> PushDraft | None:
        """Check, rewrite if flagged, check again; None unless the result passes every check and
        still states every fact of the (cleaned) brief — a rewrite that cut the offer's deadline
        or condition would mislead."""
        dropped = list(brief.dropped)
        changed = brief.changed
        parts: dict[str, str | None] = {"body": body, "title": title, "digest": digest}
        final: CheckResult | None = None
        for key, text in parts.items():
            if text is None:
                continue
            found = self._check(text, spec, threshold, brief.replying_to, name)
            if _needs_rewrite(found):
                if not allow_rewrite:
                    return None
                dropped.extend(found.findings)
                text = found.rewrite
                changed = True
                found = self._check(text, spec, threshold, brief.replying_to, name)
                if found.flagged:
                    return None
            parts[key] = text
            if key == "body":
                final = found
        assert final is not None
        body, title, digest = parts["body"] or "", parts["title"], parts["digest"]
        if unsupported("\n".join(t for t in (body, title, digest) if t), fact_sources):
            return None
        if unsupported(brief.text, [body]):
            return None
        if len(body) > spec.max_chars:
            return None
        if spec.title_chars and (not title or len(title) > spec.title_chars):
            return None
        if spec.digest_chars and digest and len(digest) > spec.digest_chars:
            return None
        if spec.topics is not None and not spec.topics[0] <= len(_TOPIC.findall(body)) <= spec.topics[1]:
            return None
        return PushDraft(
            text=body, title=title, digest=digest, channel=spec.channel, format=spec.name, customer=None,
            check=final, dropped=_gone(_unique(dropped), [body, title or "", digest or ""]), sources=sources,
            changed=changed, via=via,
        )

    def _store(self, session: Session, spec: PushFormat, drafts: Sequence[PushDraft],
               people: dict[str, Customer], members: Sequence[Customer]) -> None:
        """Store each draft as pending; a segment's one text records the members it goes to, so
        that marking it sent counts against each one's caps (the refused are not among them)."""
        for d in drafts:
            person = people.get(d.customer) if d.customer else None
            note = f"标题：{d.title}\n摘要：{d.digest}" if d.title else None
            row = crud.create_draft(
                session=session, kind="push", channel=spec.cap,
                customer_id=person.id if person is not None else None,
                text=d.text, cited_entry_ids=[h.id for h in d.sources], note=note or d.note,
            )
            d.draft_id = row.id
            if person is None and members:
                assert row.id is not None
                crud.add_recipients(session=session, draft_id=row.id,
                                    customer_ids=[m.id for m in members if m.id is not None])


def _needs_rewrite(found: CheckResult) -> bool:
    # Flagged, or a statutory finding (最/国家级/疗效/诱导分享…) even below the threshold; a
    # medium channel-etiquette finding alone leaves the merchant's words as they are.
    return found.flagged or any(f.severity == "high" for f in found.findings)


# Matched from a clause's start only (the lookbehind): tried from every character of a long
# clause, the leading run would make the search quadratic.
_VALIDITY = re.compile(
    r"(?<![^，,。；;！!？?\n])[^，,。；;！!？?\n]*(?:前有效|内有效|止有效|截止|为止)[^，,。；;！!？?\n]*"
)
_OFFER_MARKS = ("送", "赠", "减", "折", "返", "抽", "免")


def _orphaned_terms(original: str, cleaned: str) -> str | None:
    """When the checker cut an offer but kept its terms (「转发集赞送试饮装，3月20日前有效」 →
    「3月20日前有效」), the terms now read as if they applied to what is left: say so."""
    terms = _VALIDITY.search(cleaned)
    lost = [w for w in _OFFER_MARKS if w in original and w not in cleaned]
    if terms is None or not lost:
        return None
    return f"简报里的优惠被去掉了，「{terms.group(0).strip()}」却还在，请确认它现在指的是什么，必要时改写简报"


def _raised_topic(brief: str, said: Sequence[str]) -> str | None:
    """The product the customer wrote about (their latest message first) that `brief` names too:
    「家正山小种有货吗」 and 「正山小种到货」 give 正山小种. Only a product is named back to them, never
    a word such as 到货 that the two merely share."""
    for message in said:
        product = cached_topic(message)
        if product and (topic := shared_topic(brief, product)):
            return topic
    return None


def _at_most_topics(brief: str, most: int) -> tuple[str, list[str]]:
    """The brief with its first `most` #话题# (a post carries at most three) and the topics left
    out. A later topic standing alone goes; one inside a sentence (今年的#西湖#龙井) stays as a word."""
    seen = 0
    dropped: list[str] = []

    def keep(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        if seen <= most:
            return match.group(0)
        before = brief[match.start() - 1] if match.start() else " "
        after = brief[match.end()] if match.end() < len(brief) else " "
        if before.isspace() and after.isspace():
            dropped.append(match.group(0))
            return ""
        return match.group(1)

    return re.sub(r" {2,}", " ", _TOPIC.sub(keep, brief)).strip(), dropped


def _without_asides(brief: str) -> tuple[str, list[str]]:
    """The brief without its clauses addressed to the writer, and those clauses."""
    kept: list[str] = []
    asides: list[str] = []
    for clause in _CLAUSE.findall(brief):
        if _ASIDE.search(clause):
            asides.append(clause.strip().rstrip("，,；;。！!？?").strip())
        else:
            kept.append(clause)
    text = "".join(kept).strip()
    # A comma left dangling where the last clause was dropped.
    return re.sub(r"[，,；;]+$", "。", text) if text else "", [a for a in asides if a]


def _core(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", text)


def _hollow(original: str, cleaned: str) -> bool:
    """True when cleaning cut most of the brief, or every fact it stated: what is left is not
    the message any more."""
    if len(_core(cleaned)) < HOLLOW_SHARE * len(_core(original)):
        return True
    stated = facts(original)
    every_fact_cut = bool(stated) and len(unsupported(original, [cleaned])) == len({token for token, _ in stated})
    return every_fact_cut and len(_core(cleaned)) < HOLLOW_MIN_CHARS


def tier_of_tag(tag: str) -> bool:
    from bot.push.profile import TIER

    return bool(TIER.search(tag))


def _gone(findings: list[Finding], texts: list[str]) -> list[Finding]:
    """The findings whose words are no longer in the draft: a stacking finding lists 「专享」 as one
    element of many, and telling the merchant 「已去掉「专享」」 under a draft that still says it is false."""
    return [f for f in findings if not any(f.span.text in t for t in texts)]


def by_phrase(findings: Sequence[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by the words they are about, first seen first: a phrase two rules
    caught (全网最低价: an absolute term and a price claim) is one line with both reasons."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.span.text, []).append(f)
    return list(groups.items())


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[tuple[str, str], Finding] = {}
    for f in findings:
        seen.setdefault((f.rule, f.span.text), f)
    return list(seen.values())


def _end(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in _SENTENCE_END else text + "。"


def _join(parts: Any) -> str:
    out = ""
    for part in parts:
        part = part.strip(" ")
        if not part:
            continue
        if out and not out.endswith("\n") and not part.startswith("\n"):
            out = _end(out) if out[-1] not in "，,：:#" else out + (" " if out[-1] == "#" else "")
        out += part
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def _headline(brief: str) -> str:
    plain = _TOPIC.sub(lambda m: m.group(1), brief).strip()
    sentences = [s.strip() for s in re.split(r"[。！？!?\n]", plain) if s.strip()] or [plain]
    # A short exclamation (「新品来了！」) says less than the sentence after it.
    first = next((s for s in sentences if len(s) >= HEADLINE_MIN), sentences[0])
    if len(first) > HEADLINE_CHARS:
        first = re.split(r"[，,；;]", first, maxsplit=1)[0]
    if len(first) > HEADLINE_CHARS:
        # Never cut inside a number: 「满200」 cut to 「满2」 would state a figure nobody wrote.
        first = re.sub(r"[\w.%]+$", "", first[:HEADLINE_CHARS], flags=re.ASCII) or first[:HEADLINE_CHARS]
    return first.strip(" ，,")


def _summary(brief: str) -> str:
    plain = _TOPIC.sub(lambda m: m.group(1), brief).strip().replace("\n", " ")
    if len(plain) <= SUMMARY_CHARS:
        return _end(plain)
    out = ""
    for sentence in re.findall(r"[^。！？!?]+[。！？!?]?", plain):
        if len(out) + len(sentence) > SUMMARY_CHARS:
            break
        out += sentence
    return _end(out) if out else _headline(brief) + "。"


_TIME_STARTS = ("本周", "下周", "这周", "上周", "今天", "明天", "今晚", "本月", "下月", "周末", "本次", "这次")


def _trim_at_time_word(product: str, brief: str) -> str:
    """「春茶品鉴会本」 → 「春茶品鉴会」: the word segmenter may glue the start of 「本周六」 to the
    product, and #春茶品鉴会本# would be a broken topic."""
    at = brief.find(product) if product else -1
    if at < 0:
        return product
    around = brief[at:at + len(product) + 2]
    cut = min((i for word in _TIME_STARTS if 0 < (i := around.find(word)) < len(product)), default=len(product))
    return product[:cut]


def _product(brief: str) -> str:
    from bot.drafting.followup import topic_of

    return topic_of(_TOPIC.sub("", brief)) or ""
