"""Build the python-telegram-bot Application and run it by long polling or by webhook."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import Settings
from bot.drafting.assistant import Assistant
from bot.errors import ConfigError
from bot.telegram import copywriting, general, maintain, serve
from bot.telegram.roles import Roles
from bot.telegram.transport import make_request

logger = logging.getLogger(__name__)

# The menu users see (Telegram shows it for "/"); each command checks the caller's role itself.
COMMANDS = [
    ("start", "开始使用店小二"),
    ("help", "我能做什么"),
    ("customer", "设置正在接待的客户：/customer 客户编号 [wechat|weibo]"),
    ("cancel", "取消正在进行的修改"),
    ("check", "检查文案是否过度营销：/check 文案"),
    ("push", "起草推送：/push 渠道 格式 要点… [客户编号|#分组]"),
    ("kb", "知识库概况"),
    ("reindex", "重新同步知识库"),
    ("candidates", "待采纳的 FAQ 候选"),
    ("gaps", "知识库没答上的问题"),
    ("stats", "回复与审核统计：/stats [天数]"),
]
# Edited messages: staff correcting a customer's message they pasted re-drafts its card.
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
# Updates from different chats are handled side by side (drafting runs in worker threads).
MAX_CONCURRENT_UPDATES = 8
# Telegram lets one bot send about 30 messages a second in all (its FAQ on broadcasting).
TELEGRAM_MESSAGES_PER_SECOND = 30


@dataclass
class TelegramServices:
    """The long-lived core services the handlers call; built once by the composition root."""

    assistant: Assistant
    checker_model: Any = None  # bot.compliance.model's trained checker, when there is one
    push_writer: Any = None  # bot.push's writer, when that package exists
    extra: dict[str, Any] = field(default_factory=dict)
    drafting: ThreadPoolExecutor | None = None  # where replies are drafted (`drafting_threads`)

    def __post_init__(self) -> None:
        if self.drafting is None:
            self.drafting = ThreadPoolExecutor(drafting_threads(self.assistant), thread_name_prefix="drafting")

    @property
    def settings(self) -> Settings:
        return self.assistant.settings

    @property
    def knowledge(self) -> Any:
        return self.assistant.knowledge

    @property
    def engine(self) -> Any:
        return self.assistant.engine


def drafting_threads(assistant: Assistant) -> int:
    """Threads that draft replies, apart from asyncio's default pool (which syncs and uploads
    share). Drafted from the FAQ, a reply is Python holding the GIL but for its embedding, and
    more threads than the cores + 1 only take turns for it: a burst of 300 questions at 10,000
    entries on 2 cores ran at 96–99 updates/s with 6 threads, 107–108 with 3. Worded by a
    language model, a reply mostly waits for it, and asyncio's own count lets replies wait together.
    """
    cores = os.cpu_count() or 1
    return cores + 1 if getattr(assistant, "chat_model", None) is None else min(32, cores + 4)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, in order within one chat.

    A staff member who presses 修改 and then sends the new text must have the press handled
    first; two staff members in different chats need not wait for each other.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat id → (lock, updates holding it)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        key = chat.id if chat is not None else 0
        lock, users = self._chats.get(key, (asyncio.Lock(), 0))
        self._chats[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._chats[key]
            if users == 1:
                del self._chats[key]
            else:
                self._chats[key] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class TokenRedactor(logging.Filter):
    """Replace the bot token wherever a log record would show it (httpx logs /bot<token>/ URLs)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


def install_token_redaction(token: str) -> None:
    """Redact the token from every record of the loggers that see request URLs.

    A filter on a logger only sees that logger's own records, so it goes on each one that logs
    URLs (httpx) or the bot's settings (PTB logs its API URL at DEBUG); bot.logs's filter goes on
    the root handlers as well, which covers any other logger that repeats a URL.
    """
    try:
        from bot.logs import install_redaction
    except ImportError:  # older tree without bot/logs.py: the logger filters below still apply
        install_redaction = None
    for handler in logging.getLogger().handlers if install_redaction else ():
        install_redaction(handler)
    for name in ("httpx", "httpcore", "bot.telegram.transport", "telegram", "telegram.ext", "telegram.ext.Updater",
                 "telegram.ext.Application", "telegram._bot", "telegram.Bot", "telegram.ext.ExtBot",
                 "telegram.ext.AIORateLimiter", __name__):
        target = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactor) and f.token == token for f in target.filters):
            target.addFilter(TokenRedactor(token))


def build_application(
    services: TelegramServices,
    *,
    settings: Settings | None = None,
    rate_limit_retries: int = 3,
    overall_max_rate: float | None = None,
    trust_env: bool = True,
    updater: bool = True,
) -> Application:
    """The Application with every handler, talking to `settings.telegram_base_url`.

    `overall_max_rate` defaults to this process's share of Telegram's flood limit (about 30
    messages a second per bot, whichever replica sends them; 0 turns the limiter's pacing off,
    e.g. against a local server). `trust_env=False` keeps HTTP(S)_PROXY away from a loopback Bot
    API server (tests).
    """
    settings = settings or services.settings
    if overall_max_rate is None:
        overall_max_rate = TELEGRAM_MESSAGES_PER_SECOND / settings.telegram_replicas
    if settings.telegram_token is None:
        raise ConfigError("DIANXIAOER_TELEGRAM_TOKEN 未设置：先在 @BotFather 创建机器人并设置令牌")
    token = settings.telegram_token.get_secret_value()
    install_token_redaction(token)
    kind = settings.telegram_http
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .request(make_request(kind, pool_size=2 * MAX_CONCURRENT_UPDATES + 4, trust_env=trust_env))
        .get_updates_request(make_request(kind, trust_env=trust_env))
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .rate_limiter(AIORateLimiter(overall_max_rate=overall_max_rate, max_retries=rate_limit_retries))
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .post_init(_post_init)
    )
    if not updater:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["services"] = services
    application.bot_data["roles"] = Roles.from_settings(settings)
    register_handlers(application)
    return application


def register_handlers(application: Application) -> None:
    application.add_handler(TypeHandler(Update, general.gate), group=-1)
    # First: PTB's command and message handlers match edited messages too (an edited /reindex
    # must not sync again, an edited question must not make a second card beside the first).
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, serve.edited))
    application.add_handler(CommandHandler("start", general.start))
    application.add_handler(CommandHandler("help", general.help_command))
    application.add_handler(CommandHandler("stats", general.stats))
    application.add_handler(CommandHandler("customer", serve.set_customer))
    application.add_handler(CommandHandler("cancel", serve.cancel))
    application.add_handler(CommandHandler("check", copywriting.check))
    application.add_handler(CommandHandler("push", copywriting.push))
    application.add_handler(CommandHandler("kb", maintain.kb))
    application.add_handler(CommandHandler("reindex", maintain.reindex))
    application.add_handler(CommandHandler("candidates", maintain.candidates))
    application.add_handler(CommandHandler("gaps", maintain.gaps))
    application.add_handler(MessageHandler(filters.Document.ALL, maintain.document))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, serve.message))
    application.add_handler(MessageHandler(
        filters.ChatType.PRIVATE & (filters.PHOTO | filters.VOICE | filters.AUDIO | filters.VIDEO
                                    | filters.Sticker.ALL | filters.VIDEO_NOTE),
        serve.not_text,
    ))
    application.add_handler(CallbackQueryHandler(serve.card_button, pattern=r"^(ok|ed|ho|no|pk):"))
    application.add_handler(CallbackQueryHandler(maintain.candidate_button, pattern=r"^(ca|cd):"))
    application.add_handler(CallbackQueryHandler(copywriting.push_button, pattern=r"^(pa|pr|ps|pb):"))
    application.add_handler(MessageHandler(filters.COMMAND, general.unknown_command))
    application.add_error_handler(general.on_error)


async def _post_init(application: Application) -> None:
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])


def run_polling(services: TelegramServices) -> None:
    """Long polling until Ctrl-C; pending updates from while the bot was down are processed."""
    application = build_application(services)
    logger.info("Telegram: long polling")
    application.run_polling(allowed_updates=ALLOWED_UPDATES)


def run_webhook(services: TelegramServices, *, webhook_url: str, port: int, listen: str = "0.0.0.0") -> None:
    """Serve Telegram's webhook on `port`; Telegram must send the secret token with each update."""
    settings = services.settings
    if settings.telegram_webhook_secret is None:
        raise ConfigError("webhook 模式需要 DIANXIAOER_TELEGRAM_WEBHOOK_SECRET（A-Z a-z 0-9 _ -，1–256 个字符）")
    parts = urlsplit(webhook_url)
    application = build_application(services)
    logger.info("Telegram: webhook on port %d", port)
    application.run_webhook(
        listen=listen,
        port=port,
        url_path=parts.path.lstrip("/"),
        webhook_url=webhook_url,
        secret_token=settings.telegram_webhook_secret.get_secret_value(),
        allowed_updates=ALLOWED_UPDATES,
    )
