"""What each staff member is doing on a chat channel: the customer they serve, the draft they are
rewriting, and where each draft's card was shown.

Keyword-only, the caller owns the session and commits; nothing here knows about Telegram beyond
the numbers it is given (user, chat and message ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from bot.errors import DianxiaoerError
from bot.memory.models import CONVERSATION_CHANNELS, StaffCard, StaffPushCard, StaffState, utcnow


def get_state(*, session: Session, user_id: int) -> StaffState:
    """This staff member's state (a fresh, unsaved one if they have none yet)."""
    return session.get(StaffState, user_id) or StaffState(user_id=user_id)


def set_customer(*, session: Session, user_id: int, customer_ref: str, channel: str = "wechat") -> StaffState:
    if not customer_ref.strip():
        raise DianxiaoerError("请给出客户编号，例如 /customer C001")
    if channel not in CONVERSATION_CHANNELS:
        raise DianxiaoerError(f"未知渠道：{channel}（可选 {', '.join(CONVERSATION_CHANNELS)}）")
    state = get_state(session=session, user_id=user_id)
    state.customer_ref, state.channel, state.updated_at = customer_ref.strip(), channel, utcnow()
    session.add(state)
    session.flush()
    return state


def start_edit(
    *, session: Session, user_id: int, draft_id: int, chat_id: int, message_id: int
) -> StaffState:
    """The staff member's next message in `chat_id` is the new text of `draft_id`."""
    state = get_state(session=session, user_id=user_id)
    state.editing_draft_id, state.editing_chat_id, state.editing_message_id = draft_id, chat_id, message_id
    state.updated_at = utcnow()
    session.add(state)
    session.flush()
    return state


def pending_edit(*, session: Session, user_id: int, chat_id: int) -> StaffState | None:
    """The state holding an edit this user started in this chat, if any."""
    state = session.get(StaffState, user_id)
    if state is None or state.editing_draft_id is None or state.editing_chat_id != chat_id:
        return None
    return state


def clear_edit(*, session: Session, user_id: int) -> None:
    state = session.get(StaffState, user_id)
    if state is not None and state.editing_draft_id is not None:
        state.editing_draft_id = state.editing_chat_id = state.editing_message_id = None
        state.updated_at = utcnow()
        session.add(state)
        session.flush()


def record_card(
    *,
    session: Session,
    draft_id: int,
    chat_id: int,
    message_id: int,
    question: str,
    customer_ref: str | None,
    reason: str = "",
    nearest_entry_ids: Sequence[str] = (),
) -> StaffCard:
    card = StaffCard(
        draft_id=draft_id,
        chat_id=chat_id,
        message_id=message_id,
        question=question,
        customer_ref=customer_ref,
        reason=reason,
        nearest_entry_ids=list(nearest_entry_ids),
    )
    session.add(card)
    session.flush()
    return card


def get_card(*, session: Session, draft_id: int) -> StaffCard:
    card = session.get(StaffCard, draft_id)
    if card is None:
        raise DianxiaoerError(f"草稿 #{draft_id} 没有对应的卡片")
    return card


def escalate(*, session: Session, draft_id: int, by: str, now: datetime | None = None) -> StaffCard:
    """Staff say an answered draft needs a person after all: the card offers entries instead.

    Who pressed it and when are kept (the first press: a second one changes nothing)."""
    card = get_card(session=session, draft_id=draft_id)
    if not card.escalated:
        card.escalated_by = by
        card.escalated_at = now or utcnow()
    card.escalated = True
    session.add(card)
    session.flush()
    return card


def choose_entry(*, session: Session, draft_id: int, entry_id: str) -> StaffCard:
    """Record that staff picked `entry_id` as the answer to a handed-off question."""
    card = get_card(session=session, draft_id=draft_id)
    card.chosen_entry_id = entry_id
    session.add(card)
    session.flush()
    return card


def record_push_card(
    *,
    session: Session,
    draft_id: int,
    chat_id: int,
    message_id: int,
    channel: str,
    fmt: str,
    brief: str,
    customer_ref: str | None = None,
    segment: str | None = None,
    seed: int = 0,
    soften: bool = False,
) -> StaffPushCard:
    card = StaffPushCard(
        draft_id=draft_id, chat_id=chat_id, message_id=message_id, channel=channel, fmt=fmt,
        brief=brief, customer_ref=customer_ref, segment=segment, seed=seed, soften=soften,
    )
    session.add(card)
    session.flush()
    return card


def get_push_card(*, session: Session, draft_id: int) -> StaffPushCard:
    card = session.get(StaffPushCard, draft_id)
    if card is None:
        raise DianxiaoerError(f"推送草稿 #{draft_id} 没有对应的卡片")
    return card
