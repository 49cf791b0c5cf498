"""`dianxiaoer index` and `dianxiaoer search`: sync the knowledge dir, look things up in it."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.cli import cli
from bot.cli.wiring import command_services
from bot.knowledge.sync import SyncReport
from bot.textio import printable, read_batch_lines, safe_json

# Below this many vectors a progress bar is noise.
PROGRESS_MIN = 200


def _progress(total: int) -> Callable[[int], None]:
    if total < PROGRESS_MIN:
        return lambda _: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc="嵌入", unit="条", file=sys.stderr, leave=False)
    return bar.update


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the plan without writing anything.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--check", is_flag=True, help="Verify the index against the files and itself; change nothing.")
@click.option("--repair", is_flag=True, help="Sync, then verify every vector and fix what is broken.")
@click.option("--allow-mass-delete", is_flag=True, help="Allow a sync that deletes more than half the entries.")
def index(dry_run: bool, as_json: bool, check: bool, repair: bool, allow_mass_delete: bool) -> None:
    """Sync the knowledge dir into the index: embed only what was added or changed."""
    if check + repair + dry_run > 1:
        raise click.UsageError("--check, --repair and --dry-run exclude each other.")
    knowledge = command_services().knowledge
    if check:
        problems, unreadable = knowledge.verify()
        if as_json:
            click.echo(safe_json(json.dumps({"problems": problems, "file_errors": unreadable}, ensure_ascii=False)))
        for problem in [] if as_json else problems:
            click.secho(printable(f"问题 {problem}"), fg="red", err=True)
        for error in [] if as_json else unreadable:
            click.secho(printable(f"文件错误 {error}"), fg="red", err=True)
        if problems:
            click.echo(f"发现 {len(problems)} 个问题；运行 dianxiaoer index --repair 修复。", err=as_json)
        if unreadable:
            click.echo(f"{len(unreadable)} 处文件内容读不出，索引里保留的是这些文件上次读到的条目；"
                       "改好文件后运行 dianxiaoer index。", err=as_json)
        if problems or unreadable:
            sys.exit(1)
        click.echo("索引完好：与知识文件一致，每个向量都有嵌入，词法索引与向量库一致。", err=as_json)
        return
    report = knowledge.sync(
        dry_run=dry_run, progress=_progress, allow_mass_delete=allow_mass_delete, repair_all=repair
    )
    if as_json:
        click.echo(safe_json(json.dumps(report.as_json(), ensure_ascii=False)))
    else:
        _print_report(report)
    if report.unrepaired or (report.errors and not (report.added or report.updated or report.unchanged)):
        sys.exit(1)


def _print_report(report: SyncReport) -> None:
    verb = "计划" if report.dry_run else "已同步"
    click.echo(
        f"{verb}：{report.files} 个文件 · 新增 {len(report.added)} · 更新 {len(report.updated)} · "
        f"删除 {len(report.removed)} · 未变 {report.unchanged} · 错误 {len(report.errors)}"
    )
    if report.dry_run:
        for label, entries in (("+", report.added), ("~", report.updated)):
            for entry in entries:
                click.echo(printable(f"  {label} {entry.source}:{entry.line} {entry.question}"))
        for entry_id in sorted(report.removed, key=lambda e: (report.removed_from.get(e, ""), e)):
            click.echo(printable(f"  - {report.removed_from.get(entry_id, '?')} 的条目 {entry_id}"))
    if report.kept_despite_errors:
        click.echo(f"因文件有错误，保留了 {report.kept_despite_errors} 条已同步的旧条目。")
    # File names, questions and rows come from files pasted together from anywhere: a terminal
    # would obey an escape sequence in them.
    for problem in report.problems:
        click.secho(printable(f"问题 {problem}"), fg="yellow", err=True)
    for done in report.repaired:
        click.echo(printable(f"已修复：{done}"))
    for left in report.unrepaired:
        click.secho(printable(f"未能修复 {left}"), fg="red", err=True)
    for error in report.errors:
        click.secho(printable(f"错误 {error}"), fg="red", err=True)
    for warning in report.warnings:
        click.secho(printable(f"警告 {warning}"), fg="yellow", err=True)


@cli.command()
@click.argument("query", required=False)
@click.option("-k", "--top-k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="One query per line.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (always on with --batch).")
def search(query: str | None, top_k: int, batch: Path | None, as_json: bool) -> None:
    """Find the FAQ entries that match QUERY."""
    if (query is None) == (batch is None):
        raise click.UsageError("Give either QUERY or --batch FILE.")
    lines = read_batch_lines(batch) if batch is not None else []  # a bad file fails before the model loads
    kb = command_services().knowledge
    if batch is not None:
        for line in lines:
            hits = kb.search(line, top_k=top_k)
            click.echo(safe_json(json.dumps({"query": line, "hits": [h.as_json() for h in hits]}, ensure_ascii=False)))
        return
    assert query is not None
    hits = kb.search(query, top_k=top_k)
    if as_json:
        click.echo(safe_json(json.dumps({"query": query, "hits": [h.as_json() for h in hits]}, ensure_ascii=False)))
        return
    if not hits:
        click.echo("没有找到相关条目（先运行 dianxiaoer index？）")
    for rank, hit in enumerate(hits, start=1):
        click.echo(printable(f"{rank}. {hit.question}  [{hit.source}]  {hit.score:.4f}"))
        click.echo(printable(f"   {hit.answer[:120]}"))
