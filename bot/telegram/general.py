"""/start, /help, /stats, the gate that refuses strangers, and the error handler."""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.errors import DianxiaoerError
from bot.memory import staff
from bot.memory.models import utcnow
from bot.memory.stats import RESPONSE_STANDARD, ServiceStats, service_stats
from bot.telegram.cards import wait_text
from bot.telegram.common import blocking, requires, roles, services, session
from bot.telegram.roles import ROLE_NAMES

logger = logging.getLogger(__name__)

REFUSAL = "您好，这是店铺内部的客服助手，只对店里的同事开放。如需帮助，请通过店铺的微信或微博联系我们。"
ANONYMOUS = "我认不出匿名发言的管理员：请在群设置里关闭你的「匿名」身份，或私聊我，再发这个命令。"
# A stranger is told once, however often they write, and restarts do not tell them again (the
# database remembers); someone who comes back after this long is reminded rather than ignored.
REFUSAL_INTERVAL = timedelta(days=30)
# Strangers refused recently, kept in memory too so a flood from one costs no database read per
# message; bounded, so a flood from many cannot grow it without end.
REFUSED_CACHE_SIZE = 10_000

HELP = {
    "serve": "• /customer 客户编号 [wechat|weibo]：设置正在接待的客户，之后发来的文字就是这位客户的消息（在群里请 @我 或回复我的消息），我会给出回复草稿卡片（发送 ✅ / 修改 ✏️ / 转人工 🙋 / 拒绝 ❌）\n"
             "• 转发客户的消息给我也可以（群里请回复那条消息并 @我），等待时间从客户发消息时算起；回复某张卡片，就是那位客户的追问\n"
             "• 发错了字？直接编辑你发的消息，我会按改后的内容重新起草\n• /cancel：取消正在进行的修改",
    "copy": "• /check 文案：检查是否过度营销，给出问题与合规改写\n• /push 渠道 格式 要点… [客户编号|#分组]：起草推送文案（分组的一对一草稿超过 5 条时合成一张卡片并附 CSV，可一键全部通过）",
    "knowledge": "• /kb：知识库概况\n• /reindex：重新同步知识库\n• 发送文件（csv、xlsx、md、txt、json）：存入知识库并同步\n• /candidates：店员改写的答案，采纳进知识库\n• /gaps：没答上的问题（已聚类）",
    "stats": "• /stats [天数]：回复率、采纳率、从客户提问到审核的用时",
}


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: people in no role get one polite refusal and nothing more."""
    user = update.effective_user
    if user is not None and roles(context).known(user.id):
        return
    query = update.callback_query
    if query is not None:
        # In a staff group anyone can press a button; a stranger's press changes nothing.
        await query.answer("抱歉，你没有权限操作。", show_alert=True)
        raise ApplicationHandlerStop
    message = update.effective_message
    chat = update.effective_chat
    if user is None or message is None or chat is None:
        raise ApplicationHandlerStop
    # In a group, only a command is addressed to the bot; other chatter is not refused.
    addressed = chat.type == ChatType.PRIVATE or for_this_bot(message.text, context.bot.username)
    if message.sender_chat is not None and chat.type != ChatType.PRIVATE:
        # Sent as the group (an anonymous admin, often the merchant) or as a channel: Telegram
        # does not say who wrote it, so it is neither served nor refused as a stranger.
        if addressed:
            await message.reply_text(ANONYMOUS)
        raise ApplicationHandlerStop
    if addressed and _refuse_now(context, user.id):
        logger.info("refused Telegram user %s", user.id)
        await message.reply_text(REFUSAL)
    raise ApplicationHandlerStop


def _refuse_now(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> bool:
    """Whether to refuse this stranger now (and if so, remember it): not if they were refused
    within REFUSAL_INTERVAL, in this process or before a restart."""
    cache: dict[int, datetime] = context.application.bot_data.setdefault("refused", {})
    now = utcnow()
    last = cache.get(user_id)
    if last is not None and now - last < REFUSAL_INTERVAL:
        return False
    try:
        with session(context) as db:
            last = staff.refused_at(session=db, user_id=user_id)
            if last is None or now - last >= REFUSAL_INTERVAL:
                staff.record_refusal(session=db, user_id=user_id, now=now)
                db.commit()
                last = None
    except Exception:  # the database is down: refuse once per process rather than fail the gate
        logger.warning("could not read or record the refusal of Telegram user %s", user_id, exc_info=True)
        last = None
    if len(cache) >= REFUSED_CACHE_SIZE:
        cache.clear()
    cache[user_id] = last or now
    return last is None


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    mine = sorted(roles(context).of(user.id))
    shop = html.escape(services(context).settings.shop_name)
    await update.effective_message.reply_text(
        f"你好，{html.escape(user.first_name)}！我是{shop}的店小二，"
        f"你的角色：{'、'.join(ROLE_NAMES[r] for r in mine)}。\n\n" + _help_for(context, user.id)
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    assert user is not None and update.effective_message is not None
    await update.effective_message.reply_text(_help_for(context, user.id))


def _help_for(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> str:
    lines = [text for permission, text in HELP.items() if roles(context).may(user_id, permission)]  # type: ignore[arg-type]
    return "你可以：\n" + "\n".join(lines)


@requires("stats")
async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    args = context.args or []
    if args and not (args[0].isdigit() and 1 <= int(args[0]) <= 3650):
        raise DianxiaoerError("用法：/stats [天数]，天数为 1–3650 的整数")
    days = int(args[0]) if args else 30

    def figures_since(since: datetime) -> ServiceStats:
        with session(context) as db:
            return service_stats(session=db, since=since)

    # Off the event loop: a year of a busy shop's drafts takes a second to read (40,000: 1.2 s).
    figures = await blocking(figures_since, utcnow() - timedelta(days=days))

    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    def wait(value: timedelta | None) -> str:
        return "—" if value is None else wait_text(value)

    standard = int(RESPONSE_STANDARD.total_seconds() // 60)
    await update.effective_message.reply_text(
        f"📊 <b>近 {days} 天</b>\n"
        f"回复草稿 {figures.drafts} 条，知识库直接答上 {share(figures.answered_share)}（{figures.answered} 条）\n"
        f"已审核 {figures.decided} 条：原样采纳 {share(figures.acceptance_share)}（{figures.accepted}），"
        f"修改 {figures.edited}，拒绝 {figures.rejected}\n"
        f"从客户提问到审核：中位数 {wait(figures.median_wait)}，P90 {wait(figures.p90_wait)}；"
        f"{standard} 分钟内 {share(figures.within_standard_share)}（标准 {standard} 分钟）"
        + (f"\n转人工 {figures.escalated} 条，从提问到转人工中位数 {wait(figures.median_escalation_wait)}"
           if figures.escalated else "")
    )


def for_this_bot(text: str | None, bot_username: str) -> bool:
    """Whether `text` is a command for this bot: `/cmd`, or `/cmd@thisbot` but not `/cmd@otherbot`
    (a staff group may hold other bots)."""
    if not text or not text.startswith("/"):
        return False
    _, at, target = text.split(maxsplit=1)[0].partition("@")
    return not at or target.lower() == bot_username.lower()


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and for_this_bot(message.text, context.bot.username):
        await message.reply_text("没有这个命令，发送 /help 查看可用的命令。")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the person something they can act on."""
    error = context.error
    if isinstance(error, DianxiaoerError):
        text = str(error)
        logger.info("user-facing error: %s", text)
    else:
        logger.error("handling an update failed", exc_info=error)
        text = "抱歉，处理这条消息时出错了，已记录下来；请稍后再试。"
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(html.escape(text))
    except Exception:  # the reply itself failed (blocked, network): the log has the cause
        logger.warning("could not tell the user about an error", exc_info=True)
