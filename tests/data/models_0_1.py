"""The memory schema of release 0.1.0 (commit 91d8735), frozen, to build a database as it made one.

Run as a script in its own process (its tables share names with today's models):
`python models_0_1.py DATABASE_URL` creates the tables with create_all, as that release did,
and writes a few rows of each kind, for the migration tests to upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

Role = Literal["customer", "staff", "assistant"]
ConversationChannel = Literal["wechat", "weibo", "cli", "telegram"]
DraftKind = Literal["reply", "push"]
DraftStatus = Literal["pending", "approved", "edited", "rejected", "sent"]

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


def _fill(url: str) -> None:
    from sqlmodel import Session, create_engine

    engine = create_engine(url)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        wang = Customer(display_name="王姐", wechat_id="wx_wang", tags=["金卡"])
        session.add(wang)
        session.flush()
        talk = Conversation(customer_id=wang.id, channel="wechat")
        session.add(talk)
        session.flush()
        session.add(Message(conversation_id=talk.id, role="customer", text="龙井多少钱"))
        draft = Draft(text="明前龙井 268 元一罐", customer_id=wang.id, conversation_id=talk.id,
                      cited_entry_ids=["a.csv#1"], confidence=0.9)
        session.add(draft)
        session.flush()
        draft.status, draft.decided_by, draft.decided_at = "approved", "店主", utcnow()
        session.add(UnansweredQuestion(text="有咖啡豆吗", customer_id=wang.id, draft_id=draft.id))
        session.commit()
    engine.dispose()


if __name__ == "__main__":
    import sys

    _fill(sys.argv[1])
