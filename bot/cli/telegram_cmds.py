"""`dianxiaoer telegram`: the bot for staff, merchants and FAQ maintainers, by long polling or webhook."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import click

from bot.cli import cli
from bot.cli.wiring import command_services, warn_without_memory
from bot.errors import ConfigError
from bot.services import Services


def serve_telegram(services: Services, *, webhook_url: str | None = None, port: int = 8443) -> None:
    """Run the bot on the composition root's services until Ctrl-C."""
    from bot.telegram import TelegramServices, run_polling, run_webhook

    settings = services.settings
    if settings.telegram_token is None:
        raise ConfigError("DIANXIAOER_TELEGRAM_TOKEN 未设置：先在 @BotFather 创建机器人并设置令牌")
    if webhook_url:
        secret = settings.telegram_webhook_secret
        if secret is None or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret.get_secret_value()):
            # Telegram refuses any other secret when the webhook is set.
            raise ConfigError("webhook 模式需要 DIANXIAOER_TELEGRAM_WEBHOOK_SECRET（A-Z a-z 0-9 _ -，1–256 个字符）")
        parts = urlsplit(webhook_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError(f"--webhook-url 应为 https://域名/路径，而不是 {webhook_url!r}")
    if not (settings.telegram_admins or settings.telegram_staff or settings.telegram_maintainers):
        click.secho("没有设置 DIANXIAOER_TELEGRAM_ADMINS / _STAFF / _MAINTAINERS：机器人会拒绝所有人。",
                    fg="yellow", err=True)
    bot_services = TelegramServices(
        assistant=services.assistant,
        checker_model=services.checker_model,
        push_writer=services.push_writer,
    )
    warn_without_memory(services)
    if webhook_url:
        click.echo(f"店小二 Telegram 机器人已启动（webhook，端口 {port}）；Ctrl-C 停止。", err=True)
        run_webhook(bot_services, webhook_url=webhook_url, port=port)
    else:
        click.echo("店小二 Telegram 机器人已启动（长轮询）；Ctrl-C 停止。", err=True)
        run_polling(bot_services)


@cli.command()
@click.option("--webhook-url", help="Public https URL Telegram posts updates to (webhook mode).")
@click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True,
              help="Local port the webhook server listens on.")
def telegram(webhook_url: str | None, port: int) -> None:
    """Run the Telegram bot: long polling, or a webhook with --webhook-url (needs a secret token).

    \b
    Settings: DIANXIAOER_TELEGRAM_TOKEN, DIANXIAOER_TELEGRAM_ADMINS / _STAFF / _MAINTAINERS
    (comma-separated user ids), DIANXIAOER_TELEGRAM_WEBHOOK_SECRET for webhook mode,
    DIANXIAOER_TELEGRAM_BASE_URL / _BASE_FILE_URL for a self-hosted Bot API server.
    """
    if not webhook_url and click.get_current_context().get_parameter_source("port").name == "COMMANDLINE":
        raise click.UsageError("--port only applies with --webhook-url")
    serve_telegram(command_services(), webhook_url=webhook_url, port=port)
