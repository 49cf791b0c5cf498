"""Serving customers: /customer, a customer's message → a draft card, the card's buttons, edits."""

from __future__ import annotations

import contextlib
import html
import logging
from datetime import datetime

from sqlmodel import Session, select
from telegram import (
    ForceReply,
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    Update,
)
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.drafting.composer import compose_answer
from bot.errors import DianxiaoerError
from bot.knowledge.entries import Hit
from bot.memory import crud, faq_candidates, staff
from bot.memory.models import Conversation, Draft, StaffCard, StaffState, StaffStateBase, UnansweredQuestion
from bot.memory.salutation import salutation_name
from bot.memory.gaps import GREETING_RULE
from bot.telegram.cards import GREETING_REASON, reply_card
from bot.telegram.common import (actor, allowed, blocking, drafting, edit_quietly, pressed, requires, roles, services,
                                 session, typing)

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
    """A staff member's text: the new text of a draft they are editing, else a customer's message.

    A forwarded message is always a customer's (never staff's rewrite of a draft); in a group,
    "@bot" alone in reply to a message asks for a draft of that message.
    """
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None and msg.text is not None
    with session(context) as db:
        state = staff.serving(session=db, user_id=user.id)  # read once: the edit, the customer
    editing = staff.editing_in(state, msg.chat_id)
    source = msg
    if msg.chat.type == ChatType.PRIVATE:
        text: str | None = msg.text
    elif (quoted := quoted_message(msg, context.bot.username)) is not None:
        source, text = quoted, quoted.text or quoted.caption  # a photo's caption is its words
    else:
        text = addressed_text(msg, context.bot.username)
    if not text:
        # Group chatter not addressed to the bot: neither a customer's message nor the new text of
        # a draft (the edit prompt's force-reply makes the staff member's answer a reply to the bot).
        return
    if not await allowed(update, context, "serve"):
        return
    if source.forward_origin is not None and _forwarded_by_this_bot(source, context):
        await msg.reply_text("这是我发出的消息，不是客户的消息：请转发或粘贴客户发来的原话。")
    elif editing is not None and source is msg and msg.forward_origin is None:
        await _finish_edit(update, context, editing.editing_draft_id, text)  # type: ignore[arg-type]
    else:
        await _draft_reply(update, context, text, source=source, state=state)


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Staff corrected a message they had sent: a typo in the customer's words they pasted, or in
    their own new text of a draft (修改 ✏️).

    A customer's message: its pending card is superseded by a card drafted for the corrected
    text (same customer, same question time); a decided draft is not reopened, and staff are told
    so. A draft's new text: the saved text is corrected (the decision's who and when stay). In a
    group, a message with a card was meant for the bot however it was addressed (an @mention, a
    reply, or a colleague's "@bot" in reply to it), so its edits count, without the mention;
    chatter has no card and its edits are ignored.
    Any other edit (a command, a message with no card) changes nothing: in a private chat the
    bot says so rather than staying silent.
    """
    msg = update.edited_message
    if msg is None:
        return
    private = msg.chat.type == ChatType.PRIVATE
    words = msg.text if msg.text is not None else msg.caption  # a photo's caption is its text
    with session(context) as db:
        card = staff.card_for_message(session=db, chat_id=msg.chat_id, message_id=msg.message_id)
        rewritten = None if card is not None else staff.card_for_edit_message(
            session=db, chat_id=msg.chat_id, message_id=msg.message_id)
        draft = crud.get_draft(session=db, draft_id=(card or rewritten).draft_id) if card or rewritten else None
    command = (msg.text or "").startswith("/")
    if draft is None or words is None or command:
        # Said in a private chat only, and to anyone with a role (a maintainer who fixes a typo in
        # /kb is told about commands, not refused as if serving customers).
        if private and command:
            await msg.reply_text("命令改过后不会重新执行，请重新发送命令。", do_quote=True)
        elif private and roles(context).may(update.effective_user.id if update.effective_user else None, "serve"):
            await msg.reply_text("这条消息没有对应的草稿卡片，改动不会生效；如果它是客户的消息，请重新发送。",
                                 do_quote=True)
        return
    text = words if private else without_mention(words, context.bot.username)
    if not text or not await allowed(update, context, "serve"):
        return
    if rewritten is not None:
        await _correct_edit(update, context, draft, text)
        return
    assert card is not None
    if text.strip() == card.question.strip():
        return  # what the draft reads did not change
    if draft.status != "pending":
        by = f"（{html.escape(draft.decided_by)}）" if draft.decided_by else ""
        await msg.reply_text(
            f"草稿 #{draft.id} {_decided(draft)}{by}，不会因为消息改动而重新起草。"
            "如需按改后的内容回复，请把它作为新消息再发一次。", do_quote=True)
        return
    await _draft_reply(update, context, text, source=msg, supersedes=card)


async def _correct_edit(update: Update, context: ContextTypes.DEFAULT_TYPE, draft: Draft, text: str) -> None:
    msg = update.edited_message
    assert msg is not None and draft.id is not None
    if text.strip() == (draft.edited_text or "").strip():
        return
    if draft.status != "edited":
        await msg.reply_text(f"草稿 #{draft.id} {_decided(draft)}，改动不会生效。", do_quote=True)
        return
    with session(context) as db:
        staff.correct_edit(session=db, draft_id=draft.id, text=text)
        db.commit()
    await _refresh_card(context, draft.id, None)
    await msg.reply_text(f"已更正草稿 #{draft.id} 的修改文字。", do_quote=True)


def _decided(draft: Draft) -> str:
    """What became of a decided draft, e.g. 已通过 (crud's names of decisions start with 已 already;
    a superseded draft's does not)."""
    name = crud.STATUS_NAMES.get(draft.status, draft.status)
    return name if name.startswith("已") else f"已{name}"


def without_mention(text: str, bot_username: str) -> str:
    mention = f"@{bot_username}"
    return text.strip()[len(mention):].strip() if text.strip().lower().startswith(mention.lower()) else text.strip()


def quoted_message(msg: Message, bot_username: str) -> Message | None:
    """In a group, the message "@bot" alone replies to (a customer's forwarded message, or one a
    colleague pasted): a forward cannot carry a mention of the bot, so this is how it asks."""
    replied = msg.reply_to_message
    if (msg.text or "").strip().lower() != f"@{bot_username}".lower() or replied is None or not (
            replied.text or replied.caption or "").strip():
        return None
    if replied.from_user is not None and replied.from_user.username == bot_username:
        return None
    return replied


def forward_origin(msg: Message) -> tuple[str | None, datetime | None]:
    """Who first sent a forwarded message (a name as Telegram shows it, never an id) and when.

    The time is never after the forward's own (a sender's clock cannot make a wait negative).
    """
    origin = msg.forward_origin
    if origin is None:
        return None, None
    if isinstance(origin, MessageOriginUser):
        name: str | None = origin.sender_user.full_name
    elif isinstance(origin, MessageOriginHiddenUser):
        name = origin.sender_user_name
    elif isinstance(origin, MessageOriginChat):
        name = origin.sender_chat.title or origin.author_signature
    elif isinstance(origin, MessageOriginChannel):
        name = origin.author_signature or origin.chat.title
    else:
        name = None
    return (name or "").strip() or None, min(origin.date, msg.date)


def _forwarded_by_this_bot(msg: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
    origin = msg.forward_origin
    return isinstance(origin, MessageOriginUser) and origin.sender_user.id == context.bot.id


@requires("serve")
async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A screenshot, voice note or sticker in a private chat: say what the bot can read instead of
    staying silent (a customer's WeChat screenshot is the usual case)."""
    msg = update.effective_message
    assert msg is not None
    if msg.caption and msg.caption.strip():
        # A customer's photo with words (often forwarded): the words are drafted for, and staff
        # are told the picture itself was not read.
        await _draft_reply(update, context, msg.caption, source=msg)
        await msg.reply_text("↑ 只按图片附带的文字起草，图片本身我读不了。")
        return
    await msg.reply_text("我只能读文字：请把客户的消息复制成文字发来（截图、语音和表情暂时读不了）。")


def addressed_text(msg: Message, bot_username: str) -> str | None:
    """In a group, the text meant for the bot: after an @mention of it, or in a reply to it.

    Staff talking among themselves in the group are not customers' messages.
    """
    mention = f"@{bot_username}"
    text = (msg.text or "").strip()
    if text.lower().startswith(mention.lower()):
        return text[len(mention):].strip() or None
    replied = msg.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.username == bot_username:
        return text or None
    return None


async def _draft_reply(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, *,
                       source: Message, supersedes: StaffCard | None = None,
                       state: StaffStateBase | None = None) -> None:
    """Draft a reply to `text`, the customer's message in staff's message `source`, and show its
    card; with `supersedes`, the card of that message before staff corrected it. `state`: the
    staff member's state, when the caller has just read it."""
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    origin_name, asked_at = forward_origin(source)
    stopped_edit: StaffState | None = None
    replied = source.reply_to_message
    to_card = replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id
    # A plain question, its asker's state just read, needs nothing more from the database here.
    reading = session(context) if state is None or to_card or supersedes is not None else contextlib.nullcontext()
    with reading as db:
        state = state or staff.serving(session=db, user_id=user.id)
        customer_ref, channel = state.customer_ref, state.channel
        on_card = staff.card_at(session=db, chat_id=replied.chat_id, message_id=replied.message_id) if (
            to_card and replied is not None) else None
        if on_card is not None and supersedes is None:
            # A reply to a card is that card's customer's follow-up, whoever staff serve now.
            customer_ref = on_card.customer_ref
            channel = _conversation_channel(db, crud.get_draft(session=db, draft_id=on_card.draft_id)) or channel
        if supersedes is not None:
            # The corrected message belongs to the customer it was first drafted for, and was
            # asked when it was first asked, whoever staff serve now.
            old = crud.get_draft(session=db, draft_id=supersedes.draft_id)
            customer_ref, channel = supersedes.customer_ref, _conversation_channel(db, old) or channel
            origin_name, asked_at = supersedes.origin_name, supersedes.asked_at or old.created_at
            asked_at = min(asked_at, old.created_at)
            stopped_edit = db.exec(select(StaffState).where(StaffState.editing_draft_id == old.id)).first()
    assistant = services(context).assistant
    async with typing(context, msg.chat_id, msg.message_thread_id if msg.is_topic_message else None):
        result = await drafting(context, assistant.ask, text, customer=customer_ref, channel=channel,
                                replacing=supersedes.draft_id if supersedes is not None else None)
    assert result.draft_id is not None
    # 「在吗」: no entry is near it, and none should be taught it by a press of 📌.
    greeting = result.rule == GREETING_RULE
    with session(context) if result.draft is None else contextlib.nullcontext() as db:
        draft = result.draft or crud.get_draft(session=db, draft_id=result.draft_id)
        card = StaffCard(
            draft_id=result.draft_id, chat_id=msg.chat_id, message_id=0, question=text,
            customer_ref=customer_ref, reason=GREETING_REASON if greeting else result.reason,
            nearest_entry_ids=[] if greeting else [h.id for h in result.nearest[:3]], asked_at=asked_at,
            origin_name=origin_name,
        )
        shown, markup = reply_card(draft, card, entries=_entries(context), channel=channel)
    # A re-draft quotes the corrected message, so staff see which message it answers.
    sent = await source.reply_text(shown, reply_markup=markup,
                                   do_quote=True if supersedes is not None or source is not msg else None)
    with session(context) as db:
        staff.record_card(
            session=db, draft_id=result.draft_id, chat_id=sent.chat_id, message_id=sent.message_id,
            question=text, customer_ref=customer_ref, reason=card.reason,
            nearest_entry_ids=card.nearest_entry_ids, source_message_id=source.message_id,
            asked_at=asked_at, origin_name=origin_name,
        )
        # Decided in the meantime (a colleague pressed 发送 on the old card): it stays decided.
        superseded = supersedes is not None and crud.get_draft(
            session=db, draft_id=supersedes.draft_id).status == "pending"
        if superseded:
            staff.supersede(session=db, draft_id=supersedes.draft_id)  # type: ignore[union-attr]
        db.commit()
    if supersedes is None:
        return
    if superseded:
        await _refresh_card(context, supersedes.draft_id, None)
    if superseded and stopped_edit is not None:
        await context.bot.send_message(
            supersedes.chat_id,
            f"草稿 #{supersedes.draft_id} 已作废，对它的修改已取消；请在新草稿 #{result.draft_id} 上修改。",
            message_thread_id=msg.message_thread_id if msg.is_topic_message else None,
        )


@requires("serve")
async def card_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if (press := await pressed(update)) is None:
        return
    query, user, action, numbers = press
    draft_id = numbers[0]
    by = actor(user)
    with session(context) as db:
        draft = crud.get_draft(session=db, draft_id=draft_id)
        card = staff.get_card(session=db, draft_id=draft_id)
    if action == "edit":
        await _start_edit(query, context, draft, card, user)
        return
    if draft.status == "superseded":
        await query.answer(f"草稿 #{draft_id} 已作废：客户消息已更正，请用新的草稿卡片。")
    elif draft.status != "pending" and not (action == "pick" and draft.status in ("approved", "edited")):
        # Two people pressed at once, or an old card: show what was decided instead.
        await query.answer(f"草稿 #{draft_id} 已由 {draft.decided_by or '他人'} 处理。")
    elif action == "approve":
        note = await blocking(decide, services(context), draft_id=draft_id, status="approved", by=by)
        await query.answer(_short("已通过，可以复制发送", note))
    elif action == "reject":
        note = await blocking(decide, services(context), draft_id=draft_id, status="rejected", by=by)
        await query.answer(_short("已拒绝", note))
    elif action == "handoff":
        with session(context) as db:
            staff.escalate(session=db, draft_id=draft_id, by=by)
            if not _has_unanswered(db, draft_id):
                crud.add_unanswered(session=db, text=card.question, customer_id=draft.customer_id, draft_id=draft_id)
            db.commit()
        await query.answer("已转人工：可选一个答得上的条目，或自己修改")
    elif action == "pick":
        if len(numbers) < 2 or numbers[1] >= len(card.nearest_entry_ids):
            await query.answer("这个按钮已失效。")
            return
        note = await blocking(pick_entry, services(context), draft_id=draft_id,
                              entry_id=card.nearest_entry_ids[numbers[1]], by=by)
        await query.answer(_short("已记录：这个条目答得上", note))
    await _refresh_card(context, draft_id, query.message)


def _short(text: str, note: str) -> str:
    # A callback answer shows at most 200 characters.
    return f"{text}。{note}"[:200] if note else text


async def _refresh_card(context: ContextTypes.DEFAULT_TYPE, draft_id: int, message: object) -> None:
    with session(context) as db:
        draft = crud.get_draft(session=db, draft_id=draft_id)
        card = staff.get_card(session=db, draft_id=draft_id)
        channel = _conversation_channel(db, draft)
    text, markup = reply_card(draft, card, entries=_entries(context), channel=channel)
    if message is not None:
        await edit_quietly(message, text, reply_markup=markup)  # type: ignore[arg-type]
    else:
        await context.bot.edit_message_text(text, chat_id=card.chat_id, message_id=card.message_id, reply_markup=markup)


def _conversation_channel(db: Session, draft: Draft) -> str | None:
    if draft.conversation_id is None:
        return None
    conversation = db.get(Conversation, draft.conversation_id)
    return conversation.channel if conversation is not None else None


async def _start_edit(query, context, draft: Draft, card: StaffCard, user) -> None:  # type: ignore[no-untyped-def]
    if draft.status in ("rejected", "sent", "superseded"):
        await query.answer(f"草稿 #{draft.id} {_decided(draft)}，不能再改。", show_alert=True)
        return
    with session(context) as db:
        staff.start_edit(session=db, user_id=user.id, draft_id=draft.id, chat_id=card.chat_id, message_id=card.message_id)
        db.commit()
    await query.answer("请发送修改后的回复")
    # The mention makes the selective force-reply open for this staff member only; the prompt
    # goes to the card's forum topic, if it is in one.
    prompt = f"✏️ {user.mention_html()}，请发送草稿 #{draft.id} 修改后的回复（/cancel 取消）。"
    card_message = query.message if isinstance(query.message, Message) else None
    thread = card_message.message_thread_id if card_message and card_message.is_topic_message else None
    await context.bot.send_message(card.chat_id, prompt, message_thread_id=thread,
                                   reply_markup=ForceReply(selective=True))


def decide(services: object, *, draft_id: int, status: str, by: str,
           entry_id: str | None = None, edited_text: str | None = None) -> str:
    """Record a decision through the learning service (the customer's words teach the FAQ); the
    note says what was learned. A decision that stands although learning refused (e.g. a message
    too long to be a phrasing) is not an error for staff."""
    from bot.drafting.learning import record_decision

    with Session(services.engine, expire_on_commit=False) as db:  # type: ignore[attr-defined]
        try:
            outcome = record_decision(session=db, knowledge=services.knowledge, draft_id=draft_id,  # type: ignore[attr-defined]
                                      status=status, by=by, entry_id=entry_id, edited_text=edited_text)
        except DianxiaoerError as exc:
            db.rollback()
            if crud.get_draft(session=db, draft_id=draft_id).status != status:
                raise
            logger.info("draft %s decided, not learned: %s", draft_id, exc)
            return f"未学习：{exc}"
        return _for_chat(outcome.note)


# The learning service's notes speak to the command line; in the chat, its flag means nothing.
_CLI_HINTS = ("（可用 --entry 指定回答它的条目）",)


def _for_chat(note: str) -> str:
    for hint in _CLI_HINTS:
        note = note.replace(hint, "")
    return note


def pick_entry(services: object, *, draft_id: int, entry_id: str, by: str) -> str:
    """"This entry answers it": the draft becomes that entry's answer, the customer's words become
    a learned phrasing of it, and the question leaves the unanswered list."""
    meta = services.knowledge.lexical.entries.get(entry_id)  # type: ignore[attr-defined]
    if meta is None:
        raise DianxiaoerError("这个条目已从知识库删除，请重新选择或手动修改。")
    hit = Hit(id=entry_id, question=str(meta["question"]), answer=str(meta["answer"]),
              source=str(meta["source"]), score=0.0)
    with Session(services.engine, expire_on_commit=False) as db:  # type: ignore[attr-defined]
        card = staff.get_card(session=db, draft_id=draft_id)
        customer = crud.find_customer(session=db, ref=card.customer_ref) if card.customer_ref else None
    text = compose_answer([hit], shop_name=services.settings.shop_name,  # type: ignore[attr-defined]
                          customer_name=salutation_name(customer))
    note = decide(services, draft_id=draft_id, status="edited", by=by, entry_id=entry_id, edited_text=text)
    with Session(services.engine, expire_on_commit=False) as db:  # type: ignore[attr-defined]
        draft = crud.get_draft(session=db, draft_id=draft_id)
        draft.cited_entry_ids = [entry_id]
        db.add(draft)
        staff.choose_entry(session=db, draft_id=draft_id, entry_id=entry_id)
        for question in db.exec(select(UnansweredQuestion).where(UnansweredQuestion.draft_id == draft_id)).all():
            question.resolved = True
            db.add(question)
        db.commit()
    return note


def _has_unanswered(db: Session, draft_id: int) -> bool:
    return db.exec(select(UnansweredQuestion).where(UnansweredQuestion.draft_id == draft_id)).first() is not None


async def _finish_edit(update: Update, context: ContextTypes.DEFAULT_TYPE, draft_id: int, text: str) -> None:
    """`text` is the new reply: in a group, without the @mention that addressed it to the bot."""
    user, msg = update.effective_user, update.effective_message
    assert user is not None and msg is not None
    by = actor(user)
    try:
        note = await blocking(decide, services(context), draft_id=draft_id, status="edited", by=by,
                              edited_text=text)
    finally:
        # Whatever happened, the next message is a customer's again, not another attempt.
        with session(context) as db:
            staff.clear_edit(session=db, user_id=user.id)
            db.commit()
    with session(context) as db:
        draft = crud.get_draft(session=db, draft_id=draft_id)
        card = staff.record_edit_message(session=db, draft_id=draft_id, message_id=msg.message_id)
        candidate = faq_candidates.add_candidate(
            session=db, question=card.question, answer=draft.edited_text or text,
            draft_id=draft_id, proposed_by=by,
        )
        db.commit()
    await _refresh_card(context, draft_id, None)
    learned = f"\n{html.escape(note)}" if note else ""
    await msg.reply_text(
        f"已保存草稿 #{draft_id} 的修改，并作为 FAQ 候选 #{candidate.id} 交给知识库维护者。{learned}"
    )
