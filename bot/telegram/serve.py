"""Serving customers: /customer, a customer's message → a draft card, the card's buttons, edits."""

from __future__ import annotations

import html
import logging

from sqlmodel import Session, select
from telegram import ForceReply, Update
from telegram.ext import ContextTypes

from bot.drafting.composer import compose_answer
from bot.errors import DianxiaoerError
from bot.knowledge.entries import Hit
from bot.memory import crud, faq_candidates, staff
from bot.memory.models import Draft, StaffCard, UnansweredQuestion
from bot.telegram.cards import parse_callback, reply_card
from bot.telegram.common import actor, blocking, edit_quietly, requires, roles, services, session, typing

logger = logging.getLogger(__name__)

CHANNEL_WORDS = {"wechat": "wechat", "微信": "wechat", "weibo": "weibo", "微博": "weibo"}


def _entries(context: ContextTypes.DEFAULT_TYPE) -> dict[str, dict[str, object]]:
    return services(context).knowledge.lexical.entries


@requires("serve")
async def set_customer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    args = context.args or []
    if not args or len(args) > 2 or (len(args) == 2 and args[1].lower() not in CHANNEL_WORDS):
        raise DianxiaoerError("用法：/customer 客户编号 [wechat|weibo]，例如 /customer C001 weibo")
    channel = CHANNEL_WORDS[args[1].lower()] if len(args) == 2 else "wechat"
    with session(context) as db:
        known = crud.find_customer(session=db, ref=args[0])
        staff.set_customer(session=db, user_id=user.id, customer_ref=args[0], channel=channel)
        db.commit()
    who = html.escape(known.display_name if known else args[0])
    note = "" if known else "（客户资料里没有这个编号，将作为新客户记录）"
    await message.reply_text(f"好的，正在接待 <b>{who}</b>{note}。直接发来客户的消息，我来起草回复。")


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    with session(context) as db:
        had = staff.pending_edit(session=db, user_id=user.id, chat_id=message.chat_id) is not None
        staff.clear_edit(session=db, user_id=user.id)
        db.commit()
    await message.reply_text("已取消修改。" if had else "没有正在进行的修改。")


async def message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff member's text: the new text of a draft they are editing, else a customer's message."""
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None and msg.text is not None
    with session(context) as db:
        editing = staff.pending_edit(session=db, user_id=user.id, chat_id=msg.chat_id)
    if editing is not None:
        await _finish_edit(update, context, editing.editing_draft_id)  # type: ignore[arg-type]
        return
    await _draft_reply(update, context)


@requires("serve")
async def _draft_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None and msg.text is not None
    with session(context) as db:
        state = staff.get_state(session=db, user_id=user.id)
    assistant = services(context).assistant
    async with typing(context, msg.chat_id, msg.message_thread_id if msg.is_topic_message else None):
        result = await blocking(assistant.ask, msg.text, customer=state.customer_ref, channel=state.channel)
    assert result.draft_id is not None
    with session(context) as db:
        draft = crud.get_draft(session=db, draft_id=result.draft_id)
        card = StaffCard(
            draft_id=result.draft_id, chat_id=msg.chat_id, message_id=0, question=msg.text,
            customer_ref=state.customer_ref, reason=result.reason,
            nearest_entry_ids=[h.id for h in result.nearest[:3]],
        )
        text, markup = reply_card(draft, card, entries=_entries(context), channel=state.channel)
    sent = await msg.reply_text(text, reply_markup=markup)
    with session(context) as db:
        staff.record_card(
            session=db, draft_id=result.draft_id, chat_id=sent.chat_id, message_id=sent.message_id,
            question=msg.text, customer_ref=state.customer_ref, reason=result.reason,
            nearest_entry_ids=card.nearest_entry_ids,
        )
        db.commit()


@requires("serve")
async def card_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    parsed = parse_callback(query.data)
    if parsed is None:
        await query.answer("这个按钮已失效。")
        return
    action, numbers = parsed
    draft_id = numbers[0]
    by = actor(user)
    with session(context) as db:
        draft = crud.get_draft(session=db, draft_id=draft_id)
        card = staff.get_card(session=db, draft_id=draft_id)
        if action == "edit":
            if draft.status in ("rejected", "sent"):
                await query.answer(f"草稿 #{draft_id} 已{crud.STATUS_NAMES[draft.status]}，不能再改。", show_alert=True)
                return
            staff.start_edit(session=db, user_id=user.id, draft_id=draft_id,
                             chat_id=card.chat_id, message_id=card.message_id)
            db.commit()
            await query.answer("请发送修改后的回复")
            await context.bot.send_message(
                card.chat_id,
                f"✏️ {html.escape(user.first_name)}，请发送草稿 #{draft_id} 修改后的回复（/cancel 取消）。",
                reply_markup=ForceReply(selective=True),
            )
            return
        if draft.status != "pending" and not (action == "pick" and draft.status in ("approved", "edited")):
            # Two people pressed at once, or an old card: show what was decided instead.
            await query.answer(f"草稿 #{draft_id} 已由 {draft.decided_by or '他人'} 处理。")
        elif action == "approve":
            crud.decide_draft(session=db, draft_id=draft_id, status="approved", by=by)
            await query.answer("已通过，可以复制发送")
        elif action == "reject":
            crud.decide_draft(session=db, draft_id=draft_id, status="rejected", by=by)
            await query.answer("已拒绝")
        elif action == "handoff":
            staff.escalate(session=db, draft_id=draft_id)
            if not _has_unanswered(db, draft_id):
                crud.add_unanswered(session=db, text=card.question, customer_id=draft.customer_id, draft_id=draft_id)
            await query.answer("已转人工：可选一个答得上的条目，或自己修改")
        elif action == "pick":
            await _pick_entry(query, context, db, draft, card, numbers[1:], by)
        db.commit()
        text, markup = reply_card(draft, card, entries=_entries(context), channel=_channel_of(db, user.id))
    await edit_quietly(query.message, text, reply_markup=markup)  # type: ignore[arg-type]


async def _pick_entry(query, context, db: Session, draft: Draft, card: StaffCard, rest: list[int], by: str) -> None:  # type: ignore[no-untyped-def]
    """"This entry answers it": the draft becomes that entry's answer, and the choice is recorded."""
    if not rest or rest[0] >= len(card.nearest_entry_ids):
        await query.answer("这个按钮已失效。")
        return
    entry_id = card.nearest_entry_ids[rest[0]]
    meta = _entries(context).get(entry_id)
    if meta is None:
        raise DianxiaoerError("这个条目已从知识库删除，请重新选择或手动修改。")
    hit = Hit(id=entry_id, question=str(meta["question"]), answer=str(meta["answer"]),
              source=str(meta["source"]), score=0.0)
    customer = crud.find_customer(session=db, ref=card.customer_ref) if card.customer_ref else None
    text = compose_answer([hit], shop_name=services(context).settings.shop_name,
                          customer_name=customer.display_name if customer else None)
    crud.decide_draft(session=db, draft_id=draft.id, status="edited", by=by, edited_text=text)
    draft.cited_entry_ids = [entry_id]
    db.add(draft)
    staff.choose_entry(session=db, draft_id=draft.id, entry_id=entry_id)
    for question in db.exec(select(UnansweredQuestion).where(UnansweredQuestion.draft_id == draft.id)).all():
        question.resolved = True
        db.add(question)
    _learn_phrasing(db, context, card.question, entry_id, by)
    await query.answer("已记录：这个条目答得上")


def _learn_phrasing(db: Session, context: ContextTypes.DEFAULT_TYPE, phrasing: str, entry_id: str, by: str) -> None:
    """Hand the customer's wording to the learned phrasings of the gate, when that service exists."""
    try:
        from bot.memory import learned  # type: ignore[attr-defined]
    except ImportError:
        return  # the choice is kept on the card (StaffCard.chosen_entry_id) for a later import
    add = getattr(learned, "add_learned_phrasing", None)
    if add is not None:
        add(session=db, entry_id=entry_id, text=phrasing, source="telegram", by=by)


def _has_unanswered(db: Session, draft_id: int) -> bool:
    return db.exec(select(UnansweredQuestion).where(UnansweredQuestion.draft_id == draft_id)).first() is not None


def _channel_of(db: Session, user_id: int) -> str:
    return staff.get_state(session=db, user_id=user_id).channel


@requires("serve")
async def _finish_edit(update: Update, context: ContextTypes.DEFAULT_TYPE, draft_id: int) -> None:
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None and msg.text is not None
    by = actor(user)
    with session(context) as db:
        state = staff.get_state(session=db, user_id=user.id)
        chat_id, message_id = state.editing_chat_id, state.editing_message_id
        draft = crud.decide_draft(session=db, draft_id=draft_id, status="edited", by=by, edited_text=msg.text)
        staff.clear_edit(session=db, user_id=user.id)
        card = staff.get_card(session=db, draft_id=draft_id)
        candidate = faq_candidates.add_candidate(
            session=db, question=card.question, answer=draft.edited_text or msg.text,
            draft_id=draft_id, proposed_by=by,
        )
        db.commit()
        text, markup = reply_card(draft, card, entries=_entries(context), channel=state.channel)
    await context.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id, reply_markup=markup)
    await msg.reply_text(f"已保存草稿 #{draft_id} 的修改，并作为 FAQ 候选 #{candidate.id} 交给知识库维护者。")
