"""`dianxiaoer learned` (and `explain`): what staff taught the FAQ, and why a question was handed off."""

from __future__ import annotations

import json

import click
from sqlmodel import Session

from bot.cli import cli
from bot.cli.wiring import command_services
from bot.memory.learned import list_learned, list_labels
from bot.textio import printable, safe_json


@cli.group()
def learned() -> None:
    """Customer phrasings staff taught the FAQ (by approving or editing drafts, or picking an entry)."""


@learned.command("list")
@click.option("--entry", "entry_id", help="Only those of this FAQ entry.")
@click.option("--all", "everything", is_flag=True, help="Also the messages staff said the FAQ does not answer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def learned_list(entry_id: str | None, everything: bool, as_json: bool) -> None:
    """List learned phrasings, oldest first."""
    services = command_services()
    with Session(services.engine) as session:
        rows = (
            list_labels(session=session) if everything and entry_id is None
            else list_learned(session=session, entry_id=entry_id)
        )
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
        click.echo(safe_json(json.dumps(payload, ensure_ascii=False)))
        return
    if not payload:
        click.echo("还没有学到的问法。")
        return
    for item in payload:
        if item["entry_id"] is None:
            click.echo(printable(f"#{item['id']}  「{item['text']}」 → 知识库不能回答（{item['decision']}）"))
            continue
        question = item["entry_question"] or "（条目已不在知识库中）"
        click.echo(printable(f"#{item['id']}  「{item['text']}」 → {question}  [{item['entry_id']}]"))


@learned.command("remove")
@click.argument("learned_id", type=int)
def learned_remove(learned_id: int) -> None:
    """Forget learned phrasing LEARNED_ID; the next search no longer uses it."""
    from bot.drafting.learning import unlearn

    services = command_services()
    with Session(services.engine) as session:
        row = unlearn(session=session, knowledge=services.knowledge, learned_id=learned_id)
    click.echo(printable(f"已删除学到的问法 #{learned_id}：「{row.text}」"))


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain(question: str, as_json: bool) -> None:
    """Show why QUESTION would be answered or handed off: candidates, signals, rule, probability.

    Nothing is stored: no draft, no conversation.
    """
    from bot.drafting.explain import explain as trace_of

    trace = trace_of(command_services().assistant, question)
    if as_json:
        click.echo(safe_json(json.dumps(trace.as_json(), ensure_ascii=False)))
        return
    verdict = click.style("需要人工处理", fg="yellow") if trace.handoff else click.style("可以回复", fg="green")
    # The question is pasted customer text: its escape sequences are dropped, not obeyed.
    click.echo(f"消息：{printable(trace.message)}  →  {verdict}")
    click.echo(f"门槛 {trace.threshold:.3f}（{trace.calibrated}）· 规则文件：{'、'.join(trace.rules_files)}")
    for n, part in enumerate(trace.parts, start=1):
        click.echo("")
        click.secho(printable(f"[{n}] 「{part.text}」 检索为「{part.query}」"), bold=True)
        if not part.hits:
            click.echo("    没有候选条目")
        for rank, hit in enumerate(part.hits, start=1):
            click.echo(
                f"    {rank}. {printable(hit.question)}  [{printable(str(hit.id))}]  综合 {hit.score:.3f} · 向量 {hit.dense:.3f} · "
                f"词法 {hit.lexical:.2f} · 问答段落 {hit.passage:.3f} · 最贴近的一句答案 {hit.sentence:.3f}"
            )
        if part.signals:
            click.echo("    信号：" + " · ".join(f"{k} {v:.3f}" for k, v in part.signals.items()))
        if part.rule is not None:
            start, end = part.rule.span
            marked = f"{part.query[:start]}【{part.query[start:end]}】{part.query[end:]}"
            click.echo(printable(f"    规则 {part.rule.rule} 命中「{part.rule.text}」：{marked}（{part.rule_source}）"))
        else:
            click.echo("    没有规则命中")
        if part.model_probability is not None:
            click.echo(f"    模型概率 {part.model_probability:.3f}（门槛 {trace.threshold:.3f}）")
        who = f"规则 {part.decided_by}" if part.decided_by else "模型"
        result = "回答" if part.answered else "转人工"
        click.echo(printable(f"    决定：{result}（{who}；把握 {part.confidence:.2f}）{part.reason}"))
