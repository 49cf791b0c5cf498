"""Keyword-only data access. The caller owns the session and the transaction: these functions
write (so new rows have ids) but never commit, so one reply is one commit. The rows of every
reply (conversation, messages, draft) are written by `rows.insert`, without the unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import attributes
from sqlmodel import Session, col, or_, select

from bot.errors import DianxiaoerError
from bot.memory.rows import insert as insert_row
from bot.memory.models import (
    CONVERSATION_CHANNELS,
    DRAFT_KINDS,
    ROLES,
    Conversation,
    Customer,
    Draft,
    DraftRecipient,
    Message,
    UnansweredQuestion,
    utcnow,
)

# A conversation idle this long is over; the next message starts a new one.
CONVERSATION_GAP = timedelta(hours=12)

# Which decisions may follow which: staff decide a pending draft; an approved draft may still be
# edited or withdrawn; only approved or edited drafts can be marked sent; rejected and sent are
# final.
TRANSITIONS: dict[str, set[str]] = {
    "pending": {"approved", "edited", "rejected"},
    "approved": {"sent", "edited", "rejected"},
    "edited": {"sent", "edited", "rejected"},
    "rejected": set(),
    "sent": set(),
    # Replaced by a re-draft when staff corrected the customer's message (never a decision).
    "superseded": set(),
}
STATUS_NAMES = {
    "pending": "待审核",
    "approved": "已通过",
    "edited": "已修改",
    "rejected": "已拒绝",
    "sent": "已发送",
    "superseded": "作废（客户消息已更正）",
}


# Customers


def create_customer(
    *,
    session: Session,
    display_name: str,
    wechat_id: str | None = None,
    weibo_id: str | None = None,
    tags: Sequence[str] = (),
    notes: str = "",
) -> Customer:
    customer = Customer(
        display_name=display_name,
        wechat_id=wechat_id,
        weibo_id=weibo_id,
        tags=list(tags),
        notes=notes,
    )
    session.add(customer)
    session.flush()
    return customer


def get_customer(*, session: Session, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)


def find_customer(*, session: Session, ref: str) -> Customer | None:
    """Find by the merchant's own id (imported `id`), numeric row id, WeChat id, Weibo id or
    display name (in that order)."""
    ref = ref.strip()
    found = session.exec(select(Customer).where(Customer.ref == ref)).first()
    if found is not None:
        return found
    if ref.isdigit():
        found = session.get(Customer, int(ref))
        if found is not None:
            return found
    for column in (Customer.wechat_id, Customer.weibo_id, Customer.display_name):
        found = session.exec(
            select(Customer).where(column == ref).order_by(col(Customer.id))
        ).first()
        if found is not None:
            return found
    return None


def list_customers(*, session: Session, tag: str | None = None) -> list[Customer]:
    """Every customer (with `tag`, those carrying it), in import order."""
    rows = session.exec(select(Customer).order_by(col(Customer.id))).all()
    return [c for c in rows if tag is None or tag in c.tags or c.tier == tag]


def asked_entry_ids(*, session: Session, customer_id: int) -> list[str]:
    """FAQ entries cited in replies to this customer, most recent first, each once."""
    rows = session.exec(
        select(Draft.cited_entry_ids)
        .where(Draft.customer_id == customer_id, Draft.kind == "reply")
        .order_by(col(Draft.created_at).desc(), col(Draft.id).desc())
    ).all()
    return list(dict.fromkeys(entry for ids in rows for entry in ids))


def customer_messages(*, session: Session, customer_id: int, limit: int = 50) -> list[str]:
    """What this customer wrote to us, most recent first."""
    rows = session.exec(
        select(Message.text)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(Conversation.customer_id == customer_id, Message.role == "customer")
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(limit)
    ).all()
    return list(rows)


def last_contact_by_channel(*, session: Session, customer_id: int) -> dict[str, datetime]:
    """When this customer last wrote to us on each channel."""
    rows = session.exec(
        select(Conversation.channel, Message.created_at)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(Conversation.customer_id == customer_id, Message.role == "customer")
    ).all()
    latest: dict[str, datetime] = {}
    for channel, at in rows:
        if channel not in latest or at > latest[channel]:
            latest[channel] = at
    return latest


def get_or_create_customer(
    *,
    session: Session,
    display_name: str | None = None,
    wechat_id: str | None = None,
    weibo_id: str | None = None,
    tags: Sequence[str] = (),
) -> Customer:
    """The customer with this WeChat or Weibo id, else (with no id given) this name, else a new one.

    A display name alone is matched only when no external id is given: two people may share a
    nickname, and one with an id we have not seen is somebody new.
    """
    if not (display_name or wechat_id or weibo_id):
        raise DianxiaoerError("需要客户的名字、微信号或微博号中的至少一个")
    ids = [(Customer.wechat_id, wechat_id), (Customer.weibo_id, weibo_id)]
    if wechat_id or weibo_id:
        clauses = [column == value for column, value in ids if value]
        found = session.exec(
            select(Customer).where(or_(*clauses)).order_by(col(Customer.id))
        ).first()
    else:
        found = session.exec(
            select(Customer).where(Customer.display_name == display_name).order_by(col(Customer.id))
        ).first()
    if found is not None:
        return found
    name = display_name or wechat_id or weibo_id
    assert name is not None
    return create_customer(
        session=session, display_name=name, wechat_id=wechat_id, weibo_id=weibo_id, tags=tags
    )


def set_opt_out(
    *, session: Session, customer: Customer, channel: str, opted_out: bool = True
) -> Customer:
    if channel.startswith("wechat"):
        customer.opted_out_wechat = opted_out
    elif channel.startswith("weibo"):
        customer.opted_out_weibo = opted_out
    else:
        raise DianxiaoerError(f"未知渠道：{channel}（应为 wechat 或 weibo）")
    session.add(customer)
    session.flush()
    return customer


# Conversations and messages


def start_conversation(
    *, session: Session, customer_id: int | None, channel: str, now: datetime | None = None
) -> Conversation:
    if channel not in CONVERSATION_CHANNELS:
        raise DianxiaoerError(f"未知渠道：{channel}（可选 {', '.join(CONVERSATION_CHANNELS)}）")
    now = now or utcnow()
    return insert_row(
        session, Conversation(customer_id=customer_id, channel=channel, started_at=now, last_message_at=now)
    )


def latest_conversation(
    *, session: Session, customer_id: int, channel: str | None = None
) -> Conversation | None:
    query = select(Conversation).where(Conversation.customer_id == customer_id)
    if channel is not None:
        query = query.where(Conversation.channel == channel)
    return session.exec(
        query.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
    ).first()


def current_conversation(
    *, session: Session, customer_id: int | None, channel: str, now: datetime | None = None
) -> Conversation:
    """The customer's ongoing conversation on a channel, or a new one (always new if anonymous)."""
    now = now or utcnow()
    ongoing = (
        ongoing_conversation(session=session, customer_id=customer_id, channel=channel, now=now)
        if customer_id is not None
        else None
    )
    return ongoing or start_conversation(session=session, customer_id=customer_id, channel=channel, now=now)


def ongoing_conversation(
    *, session: Session, customer_id: int, channel: str, now: datetime | None = None
) -> Conversation | None:
    """The customer's conversation on a channel if its last message is recent enough to continue it."""
    latest = latest_conversation(session=session, customer_id=customer_id, channel=channel)
    if latest is not None and (now or utcnow()) - latest.last_message_at < CONVERSATION_GAP:
        return latest
    return None


def add_message(
    *, session: Session, conversation_id: int, role: str, text: str, now: datetime | None = None
) -> Message:
    return add_messages(session=session, conversation_id=conversation_id, said=[(role, text)], now=now)[0]


_TOUCH = update(Conversation.__table__)  # type: ignore[attr-defined]


def add_messages(
    *, session: Session, conversation_id: int, said: Sequence[tuple[str, str]], now: datetime | None = None
) -> list[Message]:
    """`said`: (role, text) in order, all at `now`, which becomes the conversation's last activity."""
    for role, _ in said:
        if role not in ROLES:
            raise DianxiaoerError(f"未知角色：{role}（可选 {', '.join(ROLES)}）")
    now = now or utcnow()
    touched = session.execute(
        _TOUCH.where(Conversation.__table__.c.id == conversation_id),  # type: ignore[attr-defined]
        {"last_message_at": now},
    )
    if touched.rowcount == 0:
        raise DianxiaoerError(f"对话 {conversation_id} 不存在")
    if (loaded := session.identity_map.get(session.identity_key(Conversation, conversation_id))) is not None:
        attributes.set_committed_value(loaded, "last_message_at", now)  # as the row now reads
    return [
        insert_row(session, Message(conversation_id=conversation_id, role=role, text=text, created_at=now))
        for role, text in said
    ]


def recent_messages(*, session: Session, conversation_id: int, limit: int = 10) -> list[Message]:
    """The last `limit` messages of a conversation, oldest first."""
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def last_customer_message_at(
    *, session: Session, customer_id: int, channel: str | None = None
) -> datetime | None:
    """When this customer last wrote to us (in conversations whose channel begins `channel`)."""
    query = (
        select(Message.created_at)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(Conversation.customer_id == customer_id, Message.role == "customer")
    )
    if channel is not None:
        query = query.where(col(Conversation.channel).startswith(channel))
    return session.exec(query.order_by(col(Message.created_at).desc())).first()


# Drafts


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
    now: datetime | None = None,
) -> Draft:
    """`now`: the time of the messages the draft answers, written in the same transaction (how
    `draft_exchange` finds them again)."""
    if kind not in DRAFT_KINDS:
        raise DianxiaoerError(f"未知草稿类型：{kind}（可选 {', '.join(DRAFT_KINDS)}）")
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
    if now is not None:
        draft.created_at = now
    return insert_row(session, draft)


def draft_exchange(*, session: Session, draft: Draft) -> list[Message]:
    """The customer's message a reply draft answers and the reply as memory recorded them
    (written with the draft, at its time); empty for a draft written otherwise."""
    if draft.conversation_id is None:
        return []
    return list(session.exec(
        select(Message).where(Message.conversation_id == draft.conversation_id, Message.created_at == draft.created_at)
    ).all())


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
    """Record staff's decision on a draft: approved, edited (with the new text), rejected or sent.

    Marking a draft sent keeps who decided on it; `sent_at` says when it went out.
    """
    draft = get_draft(session=session, draft_id=draft_id)
    if status not in TRANSITIONS:
        raise DianxiaoerError(f"未知状态：{status}（可选 {', '.join(TRANSITIONS)}）")
    if status not in TRANSITIONS[draft.status]:
        hint = "（只有已通过或已修改的草稿才能标为已发送）" if status == "sent" else ""
        now_is, wanted = STATUS_NAMES[draft.status], STATUS_NAMES[status]
        raise DianxiaoerError(f"草稿 #{draft_id} 当前{now_is}，不能改为{wanted}{hint}")
    if status == "edited":
        if not edited_text or not edited_text.strip():
            raise DianxiaoerError("修改草稿需要给出修改后的文字")
        draft.edited_text = edited_text.strip()
    elif edited_text is not None:
        raise DianxiaoerError("只有“修改”才能附带新的文字")
    now = now or utcnow()
    if status == "sent":
        draft.sent_at = now
        # A segment's one text reached each recorded member: from now on their caps count it.
        for recipient in session.exec(select(DraftRecipient).where(DraftRecipient.draft_id == draft_id)):
            recipient.status = "sent"
            session.add(recipient)
    else:
        draft.decided_by, draft.decided_at = by, now
    draft.status = status
    session.add(draft)
    session.flush()
    return draft


def mark_sent(
    *, session: Session, draft_id: int, by: str = "staff", now: datetime | None = None
) -> Draft:
    """Record that an approved or edited draft went out."""
    return decide_draft(session=session, draft_id=draft_id, status="sent", by=by, now=now)


def sent_pushes(
    *, session: Session, customer_id: int, channel: str, since: datetime
) -> list[datetime]:
    """When pushes on `channel` were sent to this customer since `since`, oldest first: drafts
    for them alone and segment drafts they were a recipient of, each once."""
    received = select(DraftRecipient.draft_id).where(
        DraftRecipient.customer_id == customer_id, DraftRecipient.status == "sent"
    )
    return _sent_push_times(
        session, channel, since, or_(Draft.customer_id == customer_id, col(Draft.id).in_(received))
    )


def shop_sent_pushes(*, session: Session, channel: str, since: datetime) -> list[datetime]:
    """When the shop sent pushes on `channel` since `since`, whoever they went to, oldest first:
    what a shop-wide cap (Moments a day, Weibo posts a day) and a broadcast to everyone count."""
    return _sent_push_times(session, channel, since)


def _sent_push_times(session: Session, channel: str, since: datetime, *where: Any) -> list[datetime]:
    rows = session.exec(
        select(Draft.sent_at)
        .where(
            *where,
            Draft.kind == "push",
            Draft.channel == channel,
            Draft.status == "sent",
            col(Draft.sent_at) >= since,
        )
        .order_by(col(Draft.sent_at))
    ).all()
    return [t for t in rows if t is not None]


def add_recipients(*, session: Session, draft_id: int, customer_ids: Sequence[int]) -> int:
    """Record who a segment draft (one text, no customer of its own) goes to; returns how many.
    Recording the same member twice keeps one row."""
    known = set(
        session.exec(select(DraftRecipient.customer_id).where(DraftRecipient.draft_id == draft_id)).all()
    )
    fresh = [c for c in dict.fromkeys(customer_ids) if c not in known]
    session.add_all(DraftRecipient(draft_id=draft_id, customer_id=c) for c in fresh)
    session.flush()
    return len(known) + len(fresh)


def recipient_ids(*, session: Session, draft_id: int) -> list[int]:
    """The customers (row ids) a segment draft goes to, or went to once it was sent."""
    rows = session.exec(
        select(DraftRecipient.customer_id).where(DraftRecipient.draft_id == draft_id).order_by(
            col(DraftRecipient.customer_id)
        )
    ).all()
    return list(rows)


# Questions the FAQ could not answer


def add_unanswered(
    *, session: Session, text: str, customer_id: int | None = None, draft_id: int | None = None
) -> UnansweredQuestion:
    return insert_row(session, UnansweredQuestion(text=text, customer_id=customer_id, draft_id=draft_id))


def list_unanswered(
    *, session: Session, include_resolved: bool = False
) -> list[UnansweredQuestion]:
    """Unanswered questions, oldest first."""
    query = select(UnansweredQuestion).order_by(
        col(UnansweredQuestion.created_at), col(UnansweredQuestion.id)
    )
    if not include_resolved:
        query = query.where(col(UnansweredQuestion.resolved).is_(False))
    return list(session.exec(query).all())


def resolve_unanswered(*, session: Session, question_id: int) -> UnansweredQuestion:
    """Mark a question answered, e.g. once the FAQ covers it."""
    question = session.get(UnansweredQuestion, question_id)
    if question is None:
        raise DianxiaoerError(f"未解答问题 #{question_id} 不存在")
    question.resolved = True
    session.add(question)
    session.flush()
    return question
