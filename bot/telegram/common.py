"""What every handler needs: the services, the caller's role, a worker thread, a typing action."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from sqlmodel import Session
from telegram import CallbackQuery, Message, Update, User
from telegram.constants import ChatAction
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.telegram.cards import parse_callback
from bot.telegram.roles import ROLE_NAMES, Permission, Roles

logger = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]
# Telegram shows "typing…" for at most 5 seconds; renew it a little before.
TYPING_RENEW_SECONDS = 4.5
# Only work that takes noticeable time shows "typing…" (the Bot API's own advice for
# sendChatAction): a card drafted from the FAQ in tens of milliseconds needs none, and each
# action spends the ~30 messages a second Telegram allows a bot, which the cards need.
TYPING_AFTER_SECONDS = 0.4


def services(context: ContextTypes.DEFAULT_TYPE) -> Any:
    return context.application.bot_data["services"]


def roles(context: ContextTypes.DEFAULT_TYPE) -> Roles:
    return context.application.bot_data["roles"]


def session(context: ContextTypes.DEFAULT_TYPE) -> Session:
    return Session(services(context).engine, expire_on_commit=False)


def actor(user: User) -> str:
    """How a decision's author is recorded: name and Telegram id."""
    return f"{user.full_name} (tg {user.id})"


async def blocking(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run slow core work (a sync, an upload, push copy, a check, a staff decision) off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)


async def drafting(context: ContextTypes.DEFAULT_TYPE, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Draft a reply off the event loop, in the services' drafting threads (`app.drafting_threads`)."""
    run = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(services(context).drafting, run)


def topic(msg: Message) -> int | None:
    """The forum topic `msg` is in, where the bot's answers to it belong (None: the chat itself)."""
    return msg.message_thread_id if msg.is_topic_message else None


@contextlib.asynccontextmanager
async def typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int, thread_id: int | None = None) -> AsyncIterator[None]:
    """Show "typing…" in the chat once the block has run for TYPING_AFTER_SECONDS.

    The action is renewed while the work lasts; a request already on the wire is let finish
    rather than cancelled, so no connection is torn down mid-request.
    """
    done = asyncio.Event()
    task: asyncio.Task[None] | None = None

    async def renew() -> None:
        while not done.is_set():
            try:
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING, message_thread_id=thread_id)
            except Exception:  # typing is a courtesy: never let it fail the reply
                logger.debug("typing action failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), TYPING_RENEW_SECONDS)

    def start() -> None:
        nonlocal task
        task = asyncio.create_task(renew())

    # A timer, not a task: most drafts are done long before it fires, and cost nothing more.
    timer = asyncio.get_running_loop().call_later(TYPING_AFTER_SECONDS, start)
    try:
        yield
    finally:
        timer.cancel()
        done.set()
        if task is not None:
            await task


async def allowed(update: Update, context: ContextTypes.DEFAULT_TYPE, permission: Permission) -> bool:
    """Whether the caller's role allows this; if not, they are told why (a known user: a stranger
    never gets this far, the gate has refused them)."""
    user = update.effective_user
    if roles(context).may(user.id if user else None, permission):
        return True
    have = "、".join(ROLE_NAMES[r] for r in sorted(roles(context).of(user.id if user else None)))
    text = f"你的角色（{have}）不能使用这个功能。"
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return False


def requires(permission: Permission) -> Callable[[Handler], Handler]:
    """Run the handler only for a role that allows `permission`."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            if await allowed(update, context, permission):
                await handler(update, context)

        return checked

    return wrap


async def edit_quietly(message: Message | None, text: str, **kwargs: Any) -> None:
    """Edit a message, ignoring Telegram's "message is not modified" (two presses at once)."""
    if message is None:
        return
    try:
        await message.edit_text(text, **kwargs)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def pressed(update: Update) -> tuple[CallbackQuery, User, str, list[int]] | None:
    """The button press in `update`: (query, who, action, numbers), or None (already answered)
    when its data is not one of ours, e.g. a card from before an upgrade."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    parsed = parse_callback(query.data)
    if parsed is None:
        await query.answer("这个按钮已失效。")
        return None
    return query, user, *parsed
