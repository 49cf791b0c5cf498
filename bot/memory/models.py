"""Every table 店小二 keeps: customers, conversations, messages, drafts, unanswered questions.

`XBase` holds the fields a caller provides, `X(table=True)` adds the keys and timestamps.
Times are stored as timezone-aware UTC; lists (tags, cited entry ids) as JSON so the same
models work on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

Role = Literal["customer", "staff", "assistant"]
DraftKind = Literal["reply", "push"]
DraftStatus = Literal["pending", "approved", "edited", "rejected", "sent"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _time(**kw: object) -> object:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, **kw))


def _optional_time() -> object:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class CustomerBase(SQLModel):
    display_name: str = Field(index=True)
    wechat_id: str | None = Field(default=None, index=True)
    weibo_id: str | None = Field(default=None, index=True)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    opted_out_wechat: bool = False
    opted_out_weibo: bool = False
    notes: str = ""


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _time()  # type: ignore[assignment]


class ConversationBase(SQLModel):
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    channel: str = "cli"


class Conversation(ConversationBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _time()  # type: ignore[assignment]
    last_message_at: datetime = _time()  # type: ignore[assignment]


class MessageBase(SQLModel):
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    role: str  # Role
    text: str


class Message(MessageBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _time()  # type: ignore[assignment]


class DraftBase(SQLModel):
    kind: str = "reply"  # DraftKind
    channel: str = "cli"  # e.g. wechat_customer_service, wechat_mass_subscription, weibo_post
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    text: str
    cited_entry_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    confidence: float | None = None
    needs_human: bool = False
    note: str | None = None  # e.g. why an LLM draft fell back to the FAQ's own words


class Draft(DraftBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="pending", index=True)  # DraftStatus
    decided_by: str | None = None
    decided_at: datetime | None = _optional_time()  # type: ignore[assignment]
    edited_text: str | None = None
    sent_at: datetime | None = _optional_time()  # type: ignore[assignment]
    created_at: datetime = _time()  # type: ignore[assignment]

    @property
    def final_text(self) -> str:
        return self.edited_text if self.status in ("edited", "sent") and self.edited_text else self.text


class UnansweredQuestion(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    text: str
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    draft_id: int | None = Field(default=None, foreign_key="draft.id")
    resolved: bool = False
    created_at: datetime = _time()  # type: ignore[assignment]
