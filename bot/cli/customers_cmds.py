"""`dianxiaoer customers import|list`: the merchant's customer list and what memory knows."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlmodel import Session

from bot.cli import cli
from bot.cli.wiring import command_services
from bot.config import Settings, load_settings
from bot.memory import crud
from bot.memory.customers import import_customers
from bot.textio import printable, safe_json


def _session(settings: Settings) -> Session:
    return Session(command_services(settings).engine, expire_on_commit=False)


@cli.group()
def customers() -> None:
    """Import and list customers (tags, opt-outs, what they asked about)."""


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def import_cmd(file: Path, as_json: bool) -> None:
    """Import FILE.csv (id, name, wechat_id, weibo_id, tags, opted_out_wechat, opted_out_weibo, notes).

    Chinese headers work too (编号, 姓名, 微信, 微博, 标签, 退订微信, 退订微博, 备注); a re-import
    updates by id. Bad rows are reported with their line; the rest imports.
    """
    with _session(load_settings()) as session:
        report = import_customers(session=session, path=file)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False))
        return
    click.echo(f"新增 {report.added}，更新 {report.updated}，未变 {report.unchanged}，出错 {len(report.errors)}")
    if report.ignored_columns:
        click.echo(click.style(f"未识别的列（已忽略）：{', '.join(report.ignored_columns)}", fg="yellow"))
    for error in report.errors:
        click.echo(click.style(f"{file}:{error.line}: {error.reason}", fg="red"), err=True)


def _entry_question(settings: Settings):  # type: ignore[no-untyped-def]
    """id → question from the lexical index on disk, without loading the embedding model."""
    from bot.knowledge.lexical import LexicalIndex

    root = settings.data_dir / "lexical"
    entries: dict[str, dict[str, object]] = {}
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            loaded = LexicalIndex.load(folder)
            if loaded is not None:
                entries.update(loaded.entries)
    return lambda entry_id: (entries.get(entry_id) or {}).get("question") or entry_id


@customers.command("list")
@click.option("--segment", help="Only customers carrying this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(segment: str | None, as_json: bool) -> None:
    """List customers with their tags, opt-outs and what memory learned from conversations."""
    from bot.push.profile import build_profile

    settings = load_settings()
    entry_question = _entry_question(settings)
    rows = []
    with _session(settings) as session:
        for person in crud.list_customers(session=session, tag=segment):
            profile = build_profile(session=session, customer=person, entry_question=entry_question)
            rows.append({
                "id": person.ref, "name": person.display_name, "wechat_id": person.wechat_id,
                "weibo_id": person.weibo_id, "tags": person.tags, "opted_out_wechat": person.opted_out_wechat,
                "opted_out_weibo": person.opted_out_weibo, "notes": person.notes, **profile.as_json(),
            })
    if as_json:
        click.echo(safe_json(json.dumps(rows, ensure_ascii=False)))
        return
    if not rows:
        click.echo("还没有客户。" if segment is None else f"没有带标签「{segment}」的客户。")
        return
    for row in rows:
        out = [f"{row['id'] or '-'}  {row['name']}"]
        if row["tags"]:
            out.append("标签 " + "|".join(row["tags"]))
        stops = [ch for ch, key in (("微信", "opted_out_wechat"), ("微博", "opted_out_weibo")) if row[key]]
        if stops:
            out.append("已退订 " + "、".join(stops))
        if row["interests"]:
            out.append("兴趣 " + "、".join(row["interests"]))
        if row["asked"]:
            out.append("问过 " + "；".join(row["asked"]))
        if row["last_contact"]:
            out.append("最近联系 " + "，".join(f"{ch} {at[:16]}" for ch, at in row["last_contact"].items()))
        # Names, tags and questions come from an imported file and from customers: a terminal
        # escape in them must not retitle or recolour the merchant's terminal.
        click.echo(printable("  ·  ".join(out)))
