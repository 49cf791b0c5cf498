"""`dianxiaoer push`: draft push copy for WeChat or Weibo that passes the checker and the caps."""

from __future__ import annotations

import json

import click

from bot.cli import cli
from bot.cli.wiring import command_services
from bot.push.formats import FORMATS
from bot.push.writer import MAX_VARIANTS, PushDraft, PushResult, by_phrase
from bot.textio import printable, safe_json

_FORMAT_NAMES = sorted({name for _, name in FORMATS})


def _render_draft(n: int, d: PushDraft) -> list[str]:
    # Names, references, the brief and FAQ text come from files and customers: printed as text,
    # never as terminal escape sequences.
    who = f" · 客户 {printable(d.customer)}" if d.customer else ""
    lines = [click.style(f"草稿 {n}（{d.channel}/{d.format}{who}）", bold=True)]
    if d.title:
        lines.append(printable(f"标题：{d.title}"))
    if d.digest:
        lines.append(printable(f"摘要：{d.digest}"))
    lines += [printable(d.text), ""]
    status = f"✓ 通过合规检查（{d.check.score} 分）" + ("，已按检查结果改写" if d.changed else "")
    lines.append(click.style(status, fg="green"))
    for phrase, found in by_phrase(d.dropped):
        reasons = "；".join(f"{f.reason}（{f.basis}）" for f in found)
        lines.append(click.style(printable(f"  已去掉「{phrase}」：{reasons}"), fg="yellow"))
    for hit in d.sources:
        lines.append(printable(f"  依据：{hit.question}"))
    if d.note:
        lines.append(click.style(printable(f"注：{d.note}"), fg="cyan"))
    if d.customer is None and d.recipients is not None:
        # A segment's one text: its members' caps count it once it is marked sent.
        lines.append(f"收件人：{d.recipients} 位客户")
    if d.draft_id is not None:
        lines.append(click.style(f"草稿编号 #{d.draft_id}", dim=True))
    return lines


def _render(result: PushResult) -> str:
    lines: list[str] = []
    for n, d in enumerate(result.drafts, start=1):
        lines += _render_draft(n, d) + [""]
    for r in result.refused:
        # The cap's reason usually says when already (「最早 01月01日 08:00 可发」); say it once.
        when = (f"，最早 {r.next_allowed_at.strftime('%Y-%m-%d %H:%M')} 可发"
                if r.next_allowed_at and "最早" not in r.reason else "")
        lines.append(click.style(printable(f"✗ 不发给 {r.customer}：{r.reason}{when}"), fg="red"))
    if not result.drafts and not result.refused:
        lines.append("没有可发的草稿。")
    return "\n".join(lines).rstrip()


@cli.command()
@click.option("--channel", required=True, type=click.Choice(["wechat", "weibo"]))
@click.option("--format", "fmt", required=True, type=click.Choice(_FORMAT_NAMES),
              help="wechat: article, service, moments; weibo: post, dm.")
@click.option("--brief", required=True, help="What to tell customers: product, offer, dates, conditions.")
@click.option("-c", "--customer", help="The merchant's customer id (as imported).")
@click.option("--segment", help="Every customer carrying this tag.")
@click.option("--variants", default=1, show_default=True, type=click.IntRange(1, MAX_VARIANTS))
@click.option("--soften", is_flag=True, help="Lower-key templates and a stricter check.")
@click.option("--seed", default=0, show_default=True, type=int, help="Another seed gives other templates.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def push(channel: str, fmt: str, brief: str, customer: str | None, segment: str | None, variants: int,
         soften: bool, seed: int, as_json: bool) -> None:
    """Draft push copy from a BRIEF; only checked drafts for customers who may receive it are shown.

    \b
    Example:
        dianxiaoer push --channel wechat --format service --customer C001 \\
            --brief "明前龙井到货，3月20日前下单满200减20"
    """
    writer = command_services().push_writer
    result = writer.draft(channel=channel, fmt=fmt, brief=brief, customer_ref=customer, segment=segment,
                          variants=variants, soften=soften, seed=seed)
    click.echo(safe_json(json.dumps(result.as_json(), ensure_ascii=False)) if as_json else _render(result))
