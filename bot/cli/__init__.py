"""The `dianxiaoer` command line: a thin adapter over the core services.

Each command lives in a module of this package named for what it does; they register
themselves on `cli` when imported at the bottom of this file.
"""

from __future__ import annotations

import click

from bot import __version__
from bot.errors import DianxiaoerError
from bot.logs import setup_logging


class _Group(click.Group):
    """A group that turns product errors into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DianxiaoerError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dianxiaoer")
@click.option("-v", "--verbose", is_flag=True, help="Log what is happening to stderr.")
def cli(verbose: bool) -> None:
    """店小二: grounded replies and compliant push copy for WeChat and Weibo merchants."""
    # One stderr handler whose level holds whatever a library sets its logger to (bm25s: DEBUG),
    # and which redacts secrets in URLs (LLM_BASE_URL, Telegram's /bot<token>/) in every line.
    setup_logging(verbose)


main = cli


# Command modules register themselves on `cli`.
from bot.cli import drafting_cmds, knowledge_cmds, memory_cmds  # noqa: E402,F401
from bot.cli import check_cmds  # noqa: E402,F401
from bot.cli import customers_cmds, push_cmds  # noqa: E402,F401
from bot.cli import db_cmds  # noqa: E402,F401
from bot.cli import telegram_cmds  # noqa: E402,F401
from bot.cli import gate_cmds  # noqa: E402,F401
