"""`dianxiaoer ask`, `dianxiaoer chat` and `dianxiaoer run`: draft replies to customers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from bot.cli import cli
from bot.cli.wiring import command_services, warn_without_memory
from bot.drafting.assistant import AskResult, Assistant
from bot.services import Services
from bot.textio import read_batch_lines

# Where the customer wrote: recorded on the conversation, which the push windows count.
CHANNELS = ("wechat", "weibo", "cli")


def _render(result: AskResult) -> str:
    lines = [click.style("草稿：", bold=True), result.reply, ""]
    if result.handoff:
        lines.append(click.style(f"⚠ 需要人工处理（把握 {result.confidence:.2f}）：{result.reason}", fg="yellow"))
        if result.nearest:
            lines.append("最接近的条目：" + "；".join(f"{h.question}（{h.source}）" for h in result.nearest[:3]))
    else:
        lines.append(click.style(f"✓ 可以回复（把握 {result.confidence:.2f}）", fg="green"))
    for n, hit in enumerate(result.sources, start=1):
        lines.append(f"  [{n}] {hit.question} — {hit.source}")
    if result.note:
        lines.append(click.style(f"注：{result.note}", fg="cyan"))
    if result.check is not None and (result.check_changed or result.check.flagged):
        status = "已按合规检查改写" if result.check_changed else "未通过合规检查，请人工修改后再发"
        lines.append(click.style(f"合规检查 {result.check.score} 分：{status}", fg="yellow"))
    if result.draft_id is not None:
        lines.append(click.style(f"草稿编号 #{result.draft_id}", dim=True))
    return "\n".join(lines)


@cli.command()
@click.argument("question", required=False)
@click.option("-c", "--customer", help="Customer id, WeChat/Weibo id or name; keeps a conversation.")
@click.option("--channel", type=click.Choice(CHANNELS), default="cli", show_default=True,
              help="Where the customer wrote (counts for the 48-hour and Weibo DM windows).")
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="One message per line.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (always on with --batch).")
def ask(question: str | None, customer: str | None, channel: str, batch: Path | None, as_json: bool) -> None:
    """Draft a reply to a customer's QUESTION from the FAQ, or hand it off to a human."""
    if (question is None) == (batch is None):
        raise click.UsageError("Give either QUESTION or --batch FILE.")
    lines = read_batch_lines(batch) if batch is not None else []  # a bad file fails before the model loads
    services = command_services()
    assistant = services.assistant
    warn_without_memory(services)
    _warn_if_empty(assistant)
    if batch is not None:
        for line in lines:
            if not line.strip():
                click.echo(json.dumps({"reply": "", "sources": [], "confidence": 0.0, "handoff": True, "draft_id": None,
                                       "reason": "空行：没有消息", "rule": None}, ensure_ascii=False))
                continue
            result = _kept(services, assistant.ask(line, customer=customer, channel=channel))
            click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    assert question is not None
    result = _kept(services, assistant.ask(question, customer=customer, channel=channel))
    click.echo(json.dumps(result.as_json(), ensure_ascii=False) if as_json else _render(result))


def _kept(services: Services, result: AskResult) -> AskResult:
    """`result` as shown: without a draft id when memory is an in-memory stand-in, whose ids
    name nothing once the command exits (`decide 1` would find no such draft)."""
    if services.memory_warning and result.draft_id is not None:
        return dataclasses.replace(result, draft_id=None)
    return result


def _warn_if_empty(assistant: Assistant) -> None:
    # Every message would be handed off; say why once, on stderr, so --json output stays clean.
    if assistant.knowledge.entry_count() == 0:
        click.echo("知识库是空的：先运行 dianxiaoer index，否则每条消息都会转人工。", err=True)


def _chat(services: Services, customer: str | None, channel: str = "cli") -> None:
    assistant = services.assistant
    who = customer or "访客"
    click.echo(f"店小二 · {assistant.settings.shop_name}：以「{who}」的身份输入客户消息，回车获取回复草稿；输入 /q 退出。")
    while True:
        try:
            message = click.prompt(click.style(f"{who}", fg="blue"), prompt_suffix="> ")
        except (EOFError, click.exceptions.Abort):
            click.echo()
            return
        if message.strip() in ("/q", "/quit", "/exit"):
            return
        if message.strip():
            click.echo(_render(_kept(services, assistant.ask(message, customer=customer or "访客", channel=channel))))
            click.echo()


@cli.command()
@click.option("-c", "--customer", help="Customer id, WeChat/Weibo id or name.")
@click.option("--channel", type=click.Choice(CHANNELS), default="cli", show_default=True,
              help="Where the customer writes (counts for the 48-hour and Weibo DM windows).")
def chat(customer: str | None, channel: str) -> None:
    """Talk to 店小二 in the terminal as a customer would; it remembers the conversation."""
    services = command_services()
    assistant = services.assistant
    warn_without_memory(services)
    _warn_if_empty(assistant)
    _chat(services, customer, channel)


@cli.command()
def run() -> None:
    """Sync the knowledge dir, then start the assistant (terminal chat when no Telegram token is set)."""
    from bot.cli.knowledge_cmds import _print_report, _progress

    services = command_services()
    settings = services.settings
    _print_report(services.knowledge.sync(progress=_progress))
    if settings.telegram_token is not None:
        from bot.cli.telegram_cmds import serve_telegram

        serve_telegram(services)
        return
    assistant = services.assistant
    warn_without_memory(services)
    _chat(services, None)
