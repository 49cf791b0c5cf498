"""`dianxiaoer learned` (and `explain`): what staff taught the FAQ, and why a question was handed off."""

from __future__ import annotations

import json

import click
from sqlmodel import Session

from bot.cli import cli
from bot.cli.wiring import command_services
from bot.memory.learned import list_learned


@cli.group()
def learned() -> None:
    """Customer phrasings staff taught the FAQ (by approving or editing drafts, or picking an entry)."""


@learned.command("list")
@click.option("--entry", "entry_id", help="Only those of this FAQ entry.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def learned_list(entry_id: str | None, as_json: bool) -> None:
    """List learned phrasings, oldest first."""
    services = command_services()
    with Session(services.engine) as session:
        rows = list_learned(session=session, entry_id=entry_id)
    # Read the entries' questions from the saved index only when there is something to show.
    entries = services.knowledge.lexical.entries if rows else {}
    payload = [
        {
            "id": r.id,
            "text": r.text,
            "entry_id": r.entry_id,
            "entry_question": entries.get(str(r.entry_id), {}).get("question"),
            "decision": r.decision,
            "draft_id": r.draft_id,
            "by": r.decided_by,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    if not payload:
        click.echo("还没有学到的问法。")
        return
    for item in payload:
        question = item["entry_question"] or "（条目已不在知识库中）"
        click.echo(f"#{item['id']}  「{item['text']}」 → {question}  [{item['entry_id']}]")


@learned.command("remove")
@click.argument("learned_id", type=int)
def learned_remove(learned_id: int) -> None:
    """Forget learned phrasing LEARNED_ID; the next search no longer uses it."""
    from bot.drafting.learning import unlearn

    services = command_services()
    with Session(services.engine) as session:
        row = unlearn(session=session, knowledge=services.knowledge, learned_id=learned_id)
    click.echo(f"已删除学到的问法 #{learned_id}：「{row.text}」")
