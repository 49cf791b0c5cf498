"""Every table 店小二 keeps: customers, conversations, messages, drafts, unanswered questions.

`XBase` holds the fields a caller provides, `X(table=True)` adds the keys and timestamps.
Lists (tags, cited entry ids) are JSON and times go through `UTCDateTime`, so the same models
work on SQLite and PostgreSQL and every time read back is timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

Role = Literal["customer", "staff", "assistant"]
ConversationChannel = Literal["wechat", "weibo", "cli", "telegram"]
DraftKind = Literal["reply", "push"]
DraftStatus = Literal["pending", "approved", "edited", "rejected", "sent", "superseded"]

ROLES: tuple[Role, ...] = ("customer", "staff", "assistant")
CONVERSATION_CHANNELS: tuple[ConversationChannel, ...] = ("wechat", "weibo", "cli", "telegram")
DRAFT_KINDS: tuple[DraftKind, ...] = ("reply", "push")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zones: it keeps the text it is given and hands back naive datetimes,
    and it compares times as text. So values are converted to UTC before they are written or
    compared (a naive value is taken to be UTC already) and get their zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _optional_time() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True)


class CustomerBase(SQLModel):
    display_name: str = Field(index=True)
    # External ids are unique per platform in practice, but not enforced: a merchant may import
    # the same person twice, and get_or_create_customer is what keeps new rows from duplicating.
    wechat_id: str | None = Field(default=None, index=True)
    weibo_id: str | None = Field(default=None, index=True)
    tags: list[str] = Field(
        default_factory=list, sa_type=JSON, nullable=False
    )  # e.g. 金卡, 普洱爱好者
    opted_out_wechat: bool = False
    opted_out_weibo: bool = False
    notes: str = ""
    # The merchant's own customer id (the `id` column of an imported CSV): what `--customer`
    # means first, and what a re-import updates by.
    ref: str | None = Field(default=None, unique=True, index=True)
    tier: str | None = None  # e.g. 金卡会员; read from the tags when not given


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()


class ConversationBase(SQLModel):
    customer_id: int | None = Field(
        default=None, foreign_key="customer.id", index=True
    )  # None: anonymous
    channel: str = "cli"  # ConversationChannel


class Conversation(ConversationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _created()
    last_message_at: datetime = _created()


class MessageBase(SQLModel):
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    role: str  # Role
    text: str


class Message(MessageBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()


class DraftBase(SQLModel):
    kind: str = "reply"  # DraftKind
    channel: str = "cli"  # e.g. wechat_customer_service, wechat_mass_subscription, weibo_post
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    text: str
    cited_entry_ids: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    confidence: float | None = None
    needs_human: bool = False
    note: str | None = None  # e.g. why an LLM draft fell back to the FAQ's own words


class Draft(DraftBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="pending", index=True)  # DraftStatus
    decided_by: str | None = None
    decided_at: datetime | None = _optional_time()
    edited_text: str | None = None
    sent_at: datetime | None = _optional_time()
    created_at: datetime = _created()

    @property
    def final_text(self) -> str:
        """What was (or will be) sent: staff's edit when there is one."""
        return (
            self.edited_text
            if self.status in ("edited", "sent") and self.edited_text
            else self.text
        )


class UnansweredQuestionBase(SQLModel):
    text: str
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    draft_id: int | None = Field(default=None, foreign_key="draft.id")


class UnansweredQuestion(UnansweredQuestionBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    resolved: bool = Field(default=False, index=True)
    created_at: datetime = _created()


# Telegram staff: what each staff member is doing, and where each draft's card is. Kept in the
# database, not in the bot's memory, so a restart loses no one's customer or half-done edit.
# Telegram ids exceed 32 bits, hence BigInteger.


class StaffStateBase(SQLModel):
    user_id: int = Field(sa_type=BigInteger, primary_key=True)  # Telegram user id
    customer_ref: str | None = None  # the customer being served (what /customer was given)
    channel: str = "wechat"  # where that customer wrote
    editing_draft_id: int | None = Field(default=None, foreign_key="draft.id")
    editing_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    editing_message_id: int | None = Field(default=None, sa_type=BigInteger)


class StaffState(StaffStateBase, table=True):
    updated_at: datetime = _created()


class StaffCardBase(SQLModel):
    draft_id: int = Field(foreign_key="draft.id", primary_key=True)
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int = Field(sa_type=BigInteger)
    question: str  # the customer's message as staff pasted it
    customer_ref: str | None = None
    nearest_entry_ids: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    reason: str = ""  # why the draft answered or was handed off, shown to staff
    escalated: bool = False  # staff pressed 转人工 on a draft that had answered
    escalated_by: str | None = None  # who pressed it (as decisions record who decided)
    escalated_at: datetime | None = _optional_time()
    chosen_entry_id: str | None = None  # "this entry answers it" on a handed-off card
    # The staff member's message the card answers: editing that message re-drafts the card.
    source_message_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    # When the customer asked, when that was before the card: a forward's original time, or the
    # first card's time for a re-draft. Waits run from here (else from the draft's creation).
    asked_at: datetime | None = _optional_time()
    origin_name: str | None = None  # a forward's sender as Telegram names them (never an id)
    # The staff message holding the draft's new text (修改 ✏️): editing it corrects that text.
    edit_message_id: int | None = Field(default=None, sa_type=BigInteger, index=True)


class StaffCard(StaffCardBase, table=True):
    created_at: datetime = _created()


FaqCandidateStatus = Literal["pending", "accepted", "dismissed"]


class FaqCandidateBase(SQLModel):
    """An answer staff wrote themselves, offered to maintainers as a new FAQ entry."""

    draft_id: int | None = Field(default=None, foreign_key="draft.id", index=True)
    question: str
    answer: str
    proposed_by: str = ""


class FaqCandidate(FaqCandidateBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="pending", index=True)  # FaqCandidateStatus
    decided_by: str | None = None
    decided_at: datetime | None = _optional_time()
    created_at: datetime = _created()


class LearnedPhrasingBase(SQLModel):
    """A customer's message labelled by staff: a phrasing of the FAQ entry that answers it, or,
    with no entry, a question the FAQ does not answer (what staff rejected).

    Kept here rather than in the index so that a re-sync, a new embedding model or a wiped data
    dir does not lose what staff taught; the index holds each one as a vector `<entry_id>:L<id>`.
    """

    text: str  # the customer's message as written
    entry_id: str | None = Field(default=None, index=True)  # None: the FAQ does not answer it
    decision: str = "chosen"  # approved / edited / rejected (a draft) or chosen (an entry picked)
    draft_id: int | None = Field(default=None, foreign_key="draft.id", index=True)
    decided_by: str = "staff"
    # Raised each time the label is changed in place, so that other processes notice a message
    # moved to another entry (learned.labels_stamp): the count and the newest id do not change.
    revision: int = 0


class LearnedPhrasing(LearnedPhrasingBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()


class StaffPushCardBase(SQLModel):
    """Where a push draft's card is, and what it was drafted from, so "regenerate" and "soften"
    can draft it again after a restart."""

    draft_id: int = Field(foreign_key="draft.id", primary_key=True)
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int = Field(sa_type=BigInteger)
    channel: str
    fmt: str
    brief: str
    customer_ref: str | None = None
    segment: str | None = None
    seed: int = 0
    soften: bool = False


class StaffPushCard(StaffPushCardBase, table=True):
    created_at: datetime = _created()


class KnowledgeStamp(SQLModel, table=True):
    """The content generation the last completed sync left in a shared store (one row per Chroma
    collection), so replicas sharing a Chroma server notice another's sync (bot/knowledge/replica.py)."""

    collection: str = Field(primary_key=True)
    generation: str
    entries: int = 0
    updated_at: datetime = _created()


RecipientStatus = Literal["pending", "sent"]


class DraftRecipientBase(SQLModel):
    """A member of a segment who is to receive a push drafted as one text for the whole segment
    (a 公众号 article, 朋友圈, a Weibo post): such a draft has no customer of its own, yet the
    per-follower caps count every recipient once it is sent. Only members the caps and opt-outs
    allowed when it was drafted are recorded; the rest were refused."""

    draft_id: int = Field(foreign_key="draft.id", primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", primary_key=True, index=True)
    status: str = "pending"  # RecipientStatus: "sent" once the draft is marked sent


class DraftRecipient(DraftRecipientBase, table=True):
    pass


class RefusedUser(SQLModel, table=True):
    """A Telegram user in no role who was told the bot is for the shop's staff, and when. Kept in
    the database so that a restart does not tell them again."""

    user_id: int = Field(sa_type=BigInteger, primary_key=True)
    refused_at: datetime = _created()
