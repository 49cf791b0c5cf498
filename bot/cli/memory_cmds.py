"""`dianxiaoer gaps`, `decide` and `can-push`: what memory knows, for FAQ maintainers and staff."""

from __future__ import annotations

import json
from typing import get_args

import click
from sqlmodel import Session

from bot.cli import cli
from bot.compliance.frequency import PushChannel
from bot.cli.wiring import command_services
from bot.memory import crud
from bot.memory.gaps import cluster_questions
from bot.services import Services
from bot.textio import printable, safe_json


def _open_session(services: Services) -> Session:
    return Session(services.engine)


@cli.command()
@click.option(
    "-n",
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 500),
    help="Clusters to show.",
)
@click.option(
    "--all", "include_resolved", is_flag=True, help="Include questions already marked resolved."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def gaps(limit: int, include_resolved: bool, as_json: bool) -> None:
    """List unanswered questions, clustered, most frequent first: what to add to the FAQ next.

    \b
    Example:
        dianxiaoer gaps --limit 10
    """
    services = command_services()
    with _open_session(services) as session:
        texts = [
            q.text for q in crud.list_unanswered(session=session, include_resolved=include_resolved)
        ]
    embed = services.embedder.encode_queries if texts else None
    clusters = cluster_questions(texts, embed, getattr(services.embedder, "same_question_cosine", None))[:limit]
    if as_json:
        payload = [
            {"question": c.representative, "count": c.count, "examples": c.examples}
            for c in clusters
        ]
        click.echo(safe_json(json.dumps(payload, ensure_ascii=False)))
        return
    if not clusters:
        click.echo("还没有未解答的问题。")
        return
    click.echo(f"{len(texts)} 个未解答的问题；最常见的 {len(clusters)} 类：")
    for n, cluster in enumerate(clusters, start=1):
        # Stored customer text can carry escape sequences the terminal would obey.
        click.echo(f"{n:>2}. ×{cluster.count}  {printable(cluster.representative)}")
        for other in [e for e in cluster.examples if e != cluster.representative][:3]:
            click.echo(f"        · {printable(other)}")


@cli.command()
@click.argument("draft_id", type=int)
@click.argument("decision", type=click.Choice(["approve", "edit", "reject", "sent"]))
@click.option("--text", help="The edited text (with `edit`).")
@click.option(
    "--entry", "entry_id",
    help="The FAQ entry that answers the message (approve/edit; default: the draft's source, when it has one).",
)
@click.option("--by", default="staff", show_default=True, help="Who decided.")
def decide(draft_id: int, decision: str, text: str | None, entry_id: str | None, by: str) -> None:
    """Record a decision on a draft: approve, edit (with --text), reject, or mark it sent.

    Approving or editing a reply teaches the FAQ the customer's wording (as a phrasing of
    --entry, or of the draft's source when it cites exactly one); rejecting it records that the
    FAQ does not answer it.
    """
    status = {"approve": "approved", "edit": "edited", "reject": "rejected", "sent": "sent"}[
        decision
    ]
    services = command_services()
    with _open_session(services) as session:
        if status == "sent":
            draft = crud.decide_draft(session=session, draft_id=draft_id, status=status, by=by)
            recipients = crud.recipient_ids(session=session, draft_id=draft_id)
            session.commit()
            counted = f"，已计入 {len(recipients)} 位收件人的发送次数" if recipients else ""
            click.echo(f"草稿 #{draft.id}：{crud.STATUS_NAMES[draft.status]}{counted}")
            return
        from bot.drafting.learning import record_decision

        outcome = record_decision(
            session=session, knowledge=services.knowledge, draft_id=draft_id, status=status,
            by=by, entry_id=entry_id, edited_text=text,
        )
        click.echo(f"草稿 #{outcome.draft.id}：{crud.STATUS_NAMES[outcome.draft.status]}")
        if outcome.note:
            click.echo(outcome.note)


@cli.command("can-push")
@click.argument("customer")
@click.option(
    "--channel",
    required=True,
    type=click.Choice(get_args(PushChannel)),
)
@click.option("--json", "as_json", is_flag=True)
def can_push(customer: str, channel: str, as_json: bool) -> None:
    """Say whether a push to CUSTOMER on CHANNEL is allowed now, and if not, why and when."""
    from bot.compliance.push_policy import push_decision
    from bot.errors import DianxiaoerError

    services = command_services()
    settings = services.settings
    with _open_session(services) as session:
        person = crud.find_customer(session=session, ref=customer)
        if person is None:
            raise DianxiaoerError(f"找不到客户：{customer}")
        decision = push_decision(
            session=session, customer=person, channel=channel, settings=settings
        )  # type: ignore[arg-type]
    when = decision.next_allowed_at.isoformat() if decision.next_allowed_at else None
    if as_json:
        click.echo(
            json.dumps(
                {"allowed": decision.allowed, "reason": decision.reason, "next_allowed_at": when},
                ensure_ascii=False,
            )
        )
    else:
        click.echo(
            ("✓ 可以发送" if decision.allowed else "✗ 现在不能发送") + f"：{decision.reason}"
        )
