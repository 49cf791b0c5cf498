"""Draft a reply to a customer's message: plan from the FAQ, word it, remember it.

This is the service the CLI and the Telegram adapter call. It is built once (the model, the
knowledge base and the database engine load at start-up) and then answers many messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.compliance.checker import CheckResult, check_text
from bot.config import Settings
from bot.drafting.composer import compose_answer, compose_handoff
from bot.drafting.gate import Gate, default_gate
from bot.drafting.plan import ReplyPlan, plan_reply
from bot.knowledge.base import KnowledgeBase
from bot.limits import bound_message
from bot.knowledge.entries import Hit
from bot.memory import crud
from bot.memory.gaps import GREETING_RULE, is_gap
from bot.memory.models import Customer, Draft, utcnow
from bot.memory.salutation import looks_like_id, salutation_name

logger = logging.getLogger(__name__)

# Where a reply goes on each channel the customer wrote on; the terminal and Telegram stand in
# for a WeChat customer-service message, the strictest one-to-one reading.
REPLY_SURFACES = {"wechat": ("wechat", "customer_service"), "weibo": ("weibo", "dm")}


def check_reply(reply: str, *, channel: str, settings: Settings, name: str = "") -> tuple[str, CheckResult, bool]:
    """Check a reply for its surface before it is offered; a flagged one becomes the checker's
    rewrite when that passes. Returns (text to offer, its check, whether it was rewritten).
    The customer's `name` is left alone like a brand: 「最好的时光，您好」 greets a person, and a
    rewrite would greet 「很好的时光」."""
    platform, surface = REPLY_SURFACES.get(channel, REPLY_SURFACES["wechat"])
    terms = [name] if name else []
    found = check_text(reply, channel=platform, surface=surface, settings=settings, brand_terms=terms)  # type: ignore[arg-type]
    if found.flagged and found.rewrite.strip():
        again = check_text(found.rewrite, channel=platform, surface=surface, settings=settings,  # type: ignore[arg-type]
                           brand_terms=terms)
        if not again.flagged:
            return found.rewrite, again, True
    return reply, found, False

HISTORY_TURNS = 6


@dataclass
class AskResult:
    reply: str
    sources: list[Hit]
    confidence: float
    handoff: bool
    draft_id: int | None
    reason: str  # why it answered or handed off, for staff
    queries: list[str] = field(default_factory=list)  # what was searched, after follow-up resolution
    note: str | None = None  # e.g. why an LLM draft was replaced by the FAQ's own words
    nearest: list[Hit] = field(default_factory=list)  # closest entries, shown to staff on hand-off
    check: CheckResult | None = None  # the promotional checker on the reply, for its surface
    check_changed: bool = False  # the checker's rewrite replaced the first wording
    rule: str | None = None  # the hand-off rule that decided (bot/policy); None when the model did
    # The draft as stored (detached, every column loaded), so an adapter showing it need not
    # read back the row it was just given: one query fewer per reply on Telegram's event loop.
    draft: Draft | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, object]:
        return {
            "reply": self.reply,
            "sources": [
                {"id": h.id, "question": h.question, "source": h.source, "score": round(h.score, 6)}
                for h in self.sources
            ],
            "confidence": round(self.confidence, 4),
            "handoff": self.handoff,
            "draft_id": self.draft_id,
            "reason": self.reason,
            "rule": self.rule,
            **({"check": {"flagged": self.check.flagged, "score": self.check.score,
                          "findings": [f.as_json() for f in self.check.findings],
                          "changed": self.check_changed}} if self.check is not None else {}),
        }


class Assistant:
    def __init__(
        self,
        settings: Settings,
        *,
        knowledge: KnowledgeBase,
        engine: Engine,
        chat_model: object | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.engine = engine
        self.chat_model = chat_model
        self._fixed_gate = gate
        self._shop_gate: tuple[tuple[object, object], Gate] | None = None

    @property
    def gate(self) -> Gate:
        """This shop's gate: the shared model on the scale fitted to this FAQ and to staff's
        decisions, fitted again whenever the index changes (a sync, a phrasing staff taught) or
        staff decide anything (a rejection too, here or in another process)."""
        if self._fixed_gate is not None:
            return self._fixed_gate
        lexical, labels = self.knowledge.lexical, self._labels_stamp()
        if self._shop_gate is None or self._shop_gate[0][0] is not lexical or self._shop_gate[0][1] != labels:
            from bot.drafting.calibration import shop_gate

            self._shop_gate = ((lexical, labels), shop_gate(self.knowledge, default_gate(), self._decisions()))
        return self._shop_gate[1]

    def _labels_stamp(self) -> tuple[int, int, int, int] | None:
        try:
            from bot.memory.learned import labels_stamp

            with Session(self.engine) as session:
                return labels_stamp(session=session)
        except Exception:  # unreadable: _decisions says so when the gate is fitted
            return None

    def _decisions(self) -> list:  # type: ignore[type-arg]
        """Staff's labelled questions; none when the memory database cannot be read."""
        try:
            from bot.memory.learned import labelled_questions

            with Session(self.engine) as session:
                return labelled_questions(session=session)
        except Exception as exc:  # the gate still works on the FAQ's own scale
            logger.warning("staff decisions not read for the gate: %s", exc)
            return []

    def plan(self, message: str, history: list[str]) -> ReplyPlan:
        return plan_reply(
            message,
            history=history,
            search=self.knowledge.search,
            gate=self.gate,
            lexical=self.knowledge.lexical,
        )

    def ask(
        self, message: str, *, customer: str | None = None, channel: str = "cli", replacing: int | None = None
    ) -> AskResult:
        """Draft a reply to `message` from `customer` (an id, WeChat/Weibo id or name; None = one-off).

        `replacing`: the draft of the message staff have just corrected; its uncorrected text is
        not history this message follows up on (`staff.supersede` then removes it from memory)."""
        # A pasted novel is read (and remembered) up to `max_message_chars`; the reason, the
        # note and stderr say so.
        cut = bound_message(message.strip(), self.settings)
        if cut.note:
            logger.warning("%s", cut.note)
        message = cut.text
        # Read what memory knows, plan and word without holding a transaction open (the search is
        # the slow part), then write everything in one short transaction.
        with Session(self.engine, expire_on_commit=False) as session:
            person = crud.find_customer(session=session, ref=customer) if customer else None
            if customer and person is None:
                person = _new_customer(session, customer)
            conversation = (
                crud.ongoing_conversation(session=session, customer_id=person.id, channel=channel)
                if person
                else None
            )
            replaced = (
                {m.id for m in crud.draft_exchange(session=session, draft=crud.get_draft(session=session, draft_id=replacing))}
                if replacing is not None
                else set()
            )
            history = (
                [
                    m.text
                    for m in crud.recent_messages(
                        session=session, conversation_id=conversation.id, limit=HISTORY_TURNS + len(replaced)
                    )
                    if m.role == "customer" and m.id not in replaced
                ]
                if conversation is not None
                else []
            )

        plan = self.plan(message, history)
        reply, note = self._word(plan, message, history, person)
        note = "；".join(n for n in (cut.note, note) if n) or None
        reply, check, changed = check_reply(reply, channel=channel, settings=self.settings,
                                            name=salutation_name(person) or "")

        # One timestamp for the whole write: a new conversation then starts, and is last active,
        # at the time of its messages, with no UPDATE of its row per message.
        now = utcnow()
        with Session(self.engine, expire_on_commit=False) as session:
            if conversation is None:
                conversation = crud.start_conversation(
                    session=session, customer_id=person.id if person else None, channel=channel, now=now
                )
            crud.add_messages(session=session, conversation_id=conversation.id,
                              said=[("customer", message), ("assistant", reply)], now=now)
            draft = crud.create_draft(
                session=session,
                kind="reply",
                channel=channel,
                customer_id=person.id if person else None,
                conversation_id=conversation.id,
                text=reply,
                cited_entry_ids=[h.id for h in plan.sources],
                confidence=plan.confidence,
                needs_human=plan.handoff,
                note=note,
                now=now,
            )
            if plan.handoff:
                for part in plan.pending:
                    if is_gap(part.decision.rule):  # a greeting is no question the FAQ lacks
                        crud.add_unanswered(
                            session=session, text=part.text, customer_id=person.id if person else None,
                            draft_id=draft.id,
                        )
            session.commit()
        parts = plan.answered + plan.pending
        return AskResult(
            reply=reply,
            sources=plan.sources,
            confidence=plan.confidence,
            handoff=plan.handoff,
            draft_id=draft.id,
            draft=draft,
            reason="；".join([p.decision.reason for p in parts] + ([cut.note] if cut.note else [])),
            queries=[p.query for p in parts],
            note=note,
            nearest=plan.best_hits,
            check=check,
            check_changed=changed,
            rule=next((p.decision.rule for p in plan.pending if p.decision.rule), None) if plan.handoff else None,
        )

    def _word(
        self, plan: ReplyPlan, message: str, history: list[str], person: Customer | None
    ) -> tuple[str, str | None]:
        name = salutation_name(person)
        shop = self.settings.shop_name
        if not plan.answered and plan.pending and all(p.decision.rule == GREETING_RULE for p in plan.pending):
            # 「在吗」: greet back and wait for the question; nothing is being looked into yet.
            return f"{name + '，' if name else ''}您好！这里是{shop}，请问有什么可以帮您？", None
        if not plan.answered:
            return compose_handoff(shop_name=shop, customer_name=name), None
        composed = compose_answer(
            plan.sources, shop_name=shop, customer_name=name, pending=[p.text for p in plan.pending]
        )
        if self.chat_model is None or plan.pending:
            return composed, None
        from bot.drafting.llm_reply import draft_with_llm
        from bot.drafting.prompts import load_prompt

        drafted = draft_with_llm(
            self.chat_model,
            load_prompt(self.settings.prompts_dir, "reply"),
            shop_name=shop,
            question=message,
            history=[("customer", text) for text in history],
            hits=plan.sources,
        )
        if drafted.text is None:
            logger.info("LLM draft rejected: %s", drafted.fallback_reason)
            return composed, drafted.fallback_reason
        return drafted.text, None


def _new_customer(session: Session, reference: str) -> Customer:
    """A customer for a reference not in memory: an id-shaped one (C001, wx_abc) is its `ref` and
    not a name to greet by; other text (王芳) is taken as the name staff typed."""
    from sqlalchemy.exc import IntegrityError

    reference = reference.strip()
    is_id = looks_like_id(reference)
    try:
        person = crud.create_customer(session=session, display_name=reference)
        if is_id:
            person.ref = reference
            session.add(person)
            session.flush()
        session.commit()
        return person
    except IntegrityError:  # another process created the same reference first: use theirs
        session.rollback()
        found = crud.find_customer(session=session, ref=reference)
        if found is None:
            raise
        return found
