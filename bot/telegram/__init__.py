"""The Telegram adapter: the only package that imports `telegram`.

Handlers are thin: they read the update, call the same core services the CLI uses (drafting,
memory, knowledge sync, the checker) in a worker thread, and render the result as HTML cards
with inline buttons. Everything that must survive a restart lives in the database.
"""

from bot.telegram.app import TelegramServices, build_application, run_polling, run_webhook

__all__ = ["TelegramServices", "build_application", "run_polling", "run_webhook"]
