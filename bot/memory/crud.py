"""Keyword-only data access. The caller owns the session and the transaction: these functions
add and flush (so new rows have ids) but never commit, so one reply is one commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, or_, select

from bot.errors import DianxiaoerError
from bot.memory.models import Conversation, Customer, Draft, Message, UnansweredQuestion, utcnow

# A conversation idle this long is over; the next message starts a new one.
CONVERSATION_GAP = timedelta(hours=12)

# Which decisions may follow which: staff decide a pending draft once; only approved or
# edited drafts can be marked sent.
TRANSITIONS = {
    "pending": {"approved", "edited", "rejected"},
    "approved": {"sent", "edited", "rejected"},
    "edited": {"sent", "edited", "rejected"},
    "rejected": set(),
    "sent": set(),
}
STATUS_NAMES = {"pending": "待审核", "approved": "已通过", "edited": "已修改", "rejected": "已拒绝", "sent": "已发送"}


def create_customer(
    *,
    session: Session,
    display_name: str,
    wechat_id: str | None = None,
    weibo_id: str | None = None,
    tags: Sequence[str] = (),
    notes: str = "",
) -> Customer:
    customer = Customer(display_name=display_name, wechat_id=wechat_id, weibo_id=weibo_id, tags=list(tags), notes=notes)
    session.add(customer)
    session.flush()
    return customer


def find_customer(*, session: Session, ref: str) -> Customer | None:
    """Find by numeric id, WeChat id, Weibo id or display name (in that order)."""
    if ref.isdigit():
        found = session.get(Customer, int(ref))
        if found is not None:
            return found
    return session.exec(
        select(Customer)
        .where(or_(Customer.wechat_id == ref, Customer.weibo_id == ref, Customer.display_name == ref))
        .order_by(col(Customer.id))
    ).first()


def get_or_create_customer(*, session: Session, ref: str) -> Customer:
    return find_customer(session=session, ref=ref) or create_customer(session=session, display_name=ref)


def set_opt_out(*, session: Session, customer: Customer, channel: str, opted_out: bool = True) -> Customer:
    if channel.startswith("wechat"):
        customer.opted_out_wechat = opted_out
    elif channel.startswith("weibo"):
        customer.opted_out_weibo = opted_out
    else:
        raise DianxiaoerError(f"未知渠道：{channel}（应为 wechat 或 weibo）")
    session.add(customer)
    session.flush()
    return customer


def current_conversation(
    *, session: Session, customer_id: int | None, channel: str, now: datetime | None = None
) -> Conversation:
    """The customer's ongoing conversation on a channel, or a new one (always new when anonymous)."""
    now = now or utcnow()
    if customer_id is not None:
        latest = session.exec(
            select(Conversation)
            .where(Conversation.customer_id == customer_id, Conversation.channel == channel)
            .order_by(col(Conversation.last_message_at).desc())
        ).first()
        if latest is not None and now - _aware(latest.last_message_at) < CONVERSATION_GAP:
            return latest
    conversation = Conversation(customer_id=customer_id, channel=channel, started_at=now, last_message_at=now)
    session.add(conversation)
    session.flush()
    return conversation


def add_message(
    *, session: Session, conversation_id: int, role: str, text: str, now: datetime | None = None
) -> Message:
    now = now or utcnow()
    message = Message(conversation_id=conversation_id, role=role, text=text, created_at=now)
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise DianxiaoerError(f"对话 {conversation_id} 不存在")
    conversation.last_message_at = now
    session.add_all([message, conversation])
    session.flush()
    return message


def recent_messages(*, session: Session, conversation_id: int, limit: int = 10) -> list[Message]:
    """The last `limit` messages of a conversation, oldest first."""
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def last_customer_message_at(*, session: Session, customer_id: int, channel: str | None = None) -> datetime | None:
    query = (
        select(Message.created_at)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(Conversation.customer_id == customer_id, Message.role == "customer")
    )
    if channel is not None:
        query = query.where(col(Conversation.channel).startswith(channel))
    latest = session.exec(query.order_by(col(Message.created_at).desc())).first()
    return _aware(latest) if latest else None


def create_draft(
    *,
    session: Session,
    text: str,
    kind: str = "reply",
    channel: str = "cli",
    customer_id: int | None = None,
    conversation_id: int | None = None,
    cited_entry_ids: Sequence[str] = (),
    confidence: float | None = None,
    needs_human: bool = False,
    note: str | None = None,
) -> Draft:
    draft = Draft(
        kind=kind,
        channel=channel,
        customer_id=customer_id,
        conversation_id=conversation_id,
        text=text,
        cited_entry_ids=list(cited_entry_ids),
        confidence=confidence,
        needs_human=needs_human,
        note=note,
    )
    session.add(draft)
    session.flush()
    return draft


def get_draft(*, session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise DianxiaoerError(f"草稿 #{draft_id} 不存在")
    return draft


def decide_draft(
    *,
    session: Session,
    draft_id: int,
    status: str,
    by: str,
    edited_text: str | None = None,
    now: datetime | None = None,
) -> Draft:
    """Record staff's decision on a draft: approved, edited (with the new text), rejected or sent."""
    draft = get_draft(session=session, draft_id=draft_id)
    if status not in TRANSITIONS:
        raise DianxiaoerError(f"未知状态：{status}（可选 {', '.join(TRANSITIONS)}）")
    if status not in TRANSITIONS[draft.status]:
        raise DianxiaoerError(
            f"草稿 #{draft_id} 当前{STATUS_NAMES[draft.status]}，不能改为{STATUS_NAMES[status]}"
        )
    if status == "edited":
        if not edited_text or not edited_text.strip():
            raise DianxiaoerError("修改草稿需要给出修改后的文字")
        draft.edited_text = edited_text.strip()
    now = now or utcnow()
    if status == "sent":
        draft.sent_at = now
    else:
        draft.decided_by, draft.decided_at = by, now
    draft.status = status
    session.add(draft)
    session.flush()
    return draft


def sent_pushes(*, session: Session, customer_id: int, channel: str, since: datetime) -> list[datetime]:
    """When pushes on `channel` were sent to this customer since `since`."""
    rows = session.exec(
        select(Draft.sent_at).where(
            Draft.customer_id == customer_id,
            Draft.kind == "push",
            Draft.channel == channel,
            Draft.status == "sent",
            col(Draft.sent_at) >= since,
        )
    ).all()
    return sorted(_aware(t) for t in rows if t is not None)


def add_unanswered(
    *, session: Session, text: str, customer_id: int | None = None, draft_id: int | None = None
) -> UnansweredQuestion:
    question = UnansweredQuestion(text=text, customer_id=customer_id, draft_id=draft_id)
    session.add(question)
    session.flush()
    return question


def list_unanswered(*, session: Session, include_resolved: bool = False) -> list[UnansweredQuestion]:
    query = select(UnansweredQuestion).order_by(col(UnansweredQuestion.created_at))
    if not include_resolved:
        query = query.where(UnansweredQuestion.resolved == False)  # noqa: E712
    return list(session.exec(query).all())


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
