"""What each staff member is doing on a chat channel: the customer they serve, the draft they are
rewriting, and where each draft's card was shown.

Keyword-only, the caller owns the session and commits; nothing here knows about Telegram beyond
the numbers it is given (user, chat and message ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from bot.errors import DianxiaoerError
from bot.memory.crud import draft_exchange
from bot.memory.models import (
    CONVERSATION_CHANNELS,
    Draft,
    FaqCandidate,
    RefusedUser,
    StaffCard,
    StaffPushCard,
    StaffState,
    StaffStateBase,
    UnansweredQuestion,
    utcnow,
)
from bot.memory.rows import insert as insert_row

StaffStateT = TypeVar("StaffStateT", bound=StaffStateBase)


def get_state(*, session: Session, user_id: int) -> StaffState:
    """This staff member's state (a fresh, unsaved one if they have none yet)."""
    return session.get(StaffState, user_id) or StaffState(user_id=user_id)


_STATE = select(StaffState.__table__).where(  # type: ignore[attr-defined]
    StaffState.__table__.c.user_id == bindparam("user_id"))  # type: ignore[attr-defined]


def serving(*, session: Session, user_id: int) -> StaffStateBase:
    """This staff member's state as it reads now, to decide what their message is: read on the
    event loop for every message, so one plain SELECT without the ORM's identity map and instance
    bookkeeping (0.07 ms against 0.18). Changes go through `set_customer` and `start_edit`."""
    row = session.connection().execute(_STATE, {"user_id": user_id}).first()
    return StaffStateBase.model_construct(**(row._mapping if row is not None else {"user_id": user_id}))


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
    return editing_in(state, chat_id) if state is not None else None


def editing_in(state: StaffStateT, chat_id: int) -> StaffStateT | None:
    """`state`, if it holds an edit started in this chat."""
    if state.editing_draft_id is None or state.editing_chat_id != chat_id:
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
    source_message_id: int | None = None,
    asked_at: datetime | None = None,
    origin_name: str | None = None,
) -> StaffCard:
    return insert_row(session, StaffCard(
        draft_id=draft_id,
        chat_id=chat_id,
        message_id=message_id,
        question=question,
        customer_ref=customer_ref,
        reason=reason,
        nearest_entry_ids=list(nearest_entry_ids),
        source_message_id=source_message_id,
        asked_at=asked_at,
        origin_name=origin_name,
    ))


def card_for_message(*, session: Session, chat_id: int, message_id: int) -> StaffCard | None:
    """The latest card drafted for staff's message `message_id` in `chat_id` (re-drafts after
    edits make several; the newest is the one that counts)."""
    return session.exec(
        select(StaffCard)
        .where(StaffCard.source_message_id == message_id, StaffCard.chat_id == chat_id)
        .order_by(col(StaffCard.draft_id).desc())
    ).first()


def card_at(*, session: Session, chat_id: int, message_id: int) -> StaffCard | None:
    """The card shown as message `message_id` in `chat_id`, if that message is a card."""
    return session.exec(
        select(StaffCard).where(StaffCard.chat_id == chat_id, StaffCard.message_id == message_id)
    ).first()


def record_edit_message(*, session: Session, draft_id: int, message_id: int) -> StaffCard:
    """Staff's message `message_id` (in the card's chat) holds the draft's new text."""
    card = get_card(session=session, draft_id=draft_id)
    card.edit_message_id = message_id
    session.add(card)
    session.flush()
    return card


def card_for_edit_message(*, session: Session, chat_id: int, message_id: int) -> StaffCard | None:
    """The card whose draft's new text is staff's message `message_id` in `chat_id`."""
    return session.exec(
        select(StaffCard).where(StaffCard.edit_message_id == message_id, StaffCard.chat_id == chat_id)
    ).first()


def correct_edit(*, session: Session, draft_id: int, text: str) -> Draft:
    """Staff fixed their own new text of an edited draft (a typo): the text changes, the decision
    (who, when) does not, and a pending FAQ candidate made from it gets the corrected answer."""
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise DianxiaoerError(f"草稿 #{draft_id} 不存在")
    if draft.status != "edited":
        raise DianxiaoerError(f"草稿 #{draft_id} 已不是“已修改”状态，文字不能再改")
    if not text.strip():
        raise DianxiaoerError("修改草稿需要给出修改后的文字")
    old = draft.edited_text
    draft.edited_text = text.strip()
    session.add(draft)
    for candidate in session.exec(
        select(FaqCandidate).where(FaqCandidate.draft_id == draft_id, FaqCandidate.status == "pending")
    ):
        if candidate.answer == old:
            candidate.answer = draft.edited_text
            session.add(candidate)
    session.flush()
    return draft


def supersede(*, session: Session, draft_id: int) -> Draft:
    """A pending reply draft is replaced by one for the corrected message: it is no longer
    pending, is no decision (stats and learning leave it out), its question leaves the unanswered
    list, an edit someone had started on it is dropped, and the uncorrected message and its reply
    leave the conversation's memory (follow-ups and push copy read the corrected one)."""
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise DianxiaoerError(f"草稿 #{draft_id} 不存在")
    if draft.status != "pending":
        raise DianxiaoerError(f"草稿 #{draft_id} 已处理，不能作废")
    draft.status = "superseded"
    session.add(draft)
    for message in draft_exchange(session=session, draft=draft):
        session.delete(message)
    for question in session.exec(select(UnansweredQuestion).where(UnansweredQuestion.draft_id == draft_id)):
        question.resolved = True
        session.add(question)
    for state in session.exec(select(StaffState).where(StaffState.editing_draft_id == draft_id)):
        state.editing_draft_id = state.editing_chat_id = state.editing_message_id = None
        state.updated_at = utcnow()
        session.add(state)
    session.flush()
    return draft


def refused_at(*, session: Session, user_id: int) -> datetime | None:
    """When a user in no role was last told the bot is for staff only (None: never)."""
    row = session.get(RefusedUser, user_id)
    return row.refused_at if row is not None else None


def record_refusal(*, session: Session, user_id: int, now: datetime | None = None) -> None:
    row = session.get(RefusedUser, user_id) or RefusedUser(user_id=user_id)
    row.refused_at = now or utcnow()
    session.add(row)
    session.flush()


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


def push_batch(*, session: Session, card: StaffPushCard) -> list[StaffPushCard]:
    """Every push card shown in the same message as `card` (a segment's drafts in one batch card)."""
    return list(session.exec(
        select(StaffPushCard)
        .where(StaffPushCard.chat_id == card.chat_id, StaffPushCard.message_id == card.message_id)
        .order_by(col(StaffPushCard.draft_id))
    ).all())


def get_push_card(*, session: Session, draft_id: int) -> StaffPushCard:
    card = session.get(StaffPushCard, draft_id)
    if card is None:
        raise DianxiaoerError(f"推送草稿 #{draft_id} 没有对应的卡片")
    return card
