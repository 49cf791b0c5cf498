"""Keyword-only data access for what staff taught: learned phrasings and labelled questions.

One row per customer message: the latest decision on the same words replaces the earlier one
(staff who pick another entry for a message mean the first pick was wrong). The caller owns
the session; these functions flush but never commit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from bot.errors import DianxiaoerError
from bot.memory.models import Draft, LearnedPhrasing, Message

DECISIONS = ("approved", "edited", "rejected", "chosen")
MAX_TEXT = 500  # a phrasing longer than this is a story, not a way of asking


@dataclass(frozen=True)
class LabelledQuestion:
    """A customer's question and what staff said answers it (None: the FAQ does not)."""

    text: str
    entry_id: str | None
    decision: str


def vector_id(row: LearnedPhrasing) -> str:
    """The id of the row's vector in the index: one more vector of its entry."""
    return f"{row.entry_id}:L{row.id}"


def record_label(
    *,
    session: Session,
    text: str,
    entry_id: str | None,
    decision: str,
    draft_id: int | None = None,
    by: str = "staff",
) -> LearnedPhrasing:
    """Label `text` as answered by `entry_id` (None: not by the FAQ), replacing an earlier label."""
    text = text.strip()
    if not text:
        raise DianxiaoerError("要学习的问法是空的")
    if len(text) > MAX_TEXT:
        raise DianxiaoerError(f"要学习的问法太长（{len(text)} 字，最多 {MAX_TEXT} 字）")
    if decision not in DECISIONS:
        raise DianxiaoerError(f"未知决定：{decision}（可选 {', '.join(DECISIONS)}）")
    row = session.exec(select(LearnedPhrasing).where(LearnedPhrasing.text == text)).first()
    if row is None:
        row = LearnedPhrasing(text=text)
    else:
        row.revision += 1
    row.entry_id, row.decision, row.draft_id, row.decided_by = entry_id, decision, draft_id, by
    session.add(row)
    session.flush()
    return row


def get_learned(*, session: Session, learned_id: int) -> LearnedPhrasing:
    row = session.get(LearnedPhrasing, learned_id)
    if row is None:
        raise DianxiaoerError(f"学到的问法 #{learned_id} 不存在")
    return row


def list_learned(*, session: Session, entry_id: str | None = None) -> list[LearnedPhrasing]:
    """Phrasings learned for an entry (for any entry when None), oldest first."""
    query = select(LearnedPhrasing).where(col(LearnedPhrasing.entry_id).is_not(None))
    if entry_id is not None:
        query = query.where(LearnedPhrasing.entry_id == entry_id)
    return list(session.exec(query.order_by(col(LearnedPhrasing.id))).all())


def list_labels(*, session: Session) -> list[LearnedPhrasing]:
    """Every label, the FAQ-does-not-answer ones too, oldest first."""
    return list(session.exec(select(LearnedPhrasing).order_by(col(LearnedPhrasing.id))).all())


def remove_learned(*, session: Session, learned_id: int) -> LearnedPhrasing:
    row = get_learned(session=session, learned_id=learned_id)
    session.delete(row)
    session.flush()
    return row


def move_entries(*, session: Session, moves: Mapping[str, str]) -> int:
    """Give what staff taught and labelled for an entry to the entry it became (old id → new id:
    its file renamed or moved, so its id changed); how many rows moved."""
    if not moves:
        return 0
    rows = session.exec(select(LearnedPhrasing).where(col(LearnedPhrasing.entry_id).in_(list(moves)))).all()
    for row in rows:
        row.entry_id = moves[str(row.entry_id)]
        session.add(row)
    session.flush()
    return len(rows)


def forget_entries(*, session: Session, entry_ids: Collection[str]) -> int:
    """Drop the phrasings learned for entries that no longer exist; how many were dropped."""
    if not entry_ids:
        return 0
    rows = session.exec(
        select(LearnedPhrasing).where(col(LearnedPhrasing.entry_id).in_(list(entry_ids)))
    ).all()
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def labelled_questions(*, session: Session) -> list[LabelledQuestion]:
    """Every staff label, oldest first: the examples a shop's gate is re-fitted on."""
    return [LabelledQuestion(r.text, r.entry_id, r.decision) for r in list_labels(session=session)]


_STAMP = select(func.count(col(LearnedPhrasing.id)), func.max(col(LearnedPhrasing.id)),
                func.count(col(LearnedPhrasing.entry_id)), func.sum(col(LearnedPhrasing.revision)))


def labels_stamp(*, session: Session) -> tuple[int, int, int, int]:
    """What changes whenever staff label a message: (labels, the newest id, labels with an entry,
    relabellings). One aggregate, cheap enough to read before every `ask` so that a decision made
    in another process (a rejection, which leaves the index alone, or a message moved to another
    entry) reaches the next reply."""
    count, newest, answered, revisions = session.connection().execute(_STAMP).one()  # no ORM: every reply reads it
    return int(count or 0), int(newest or 0), int(answered or 0), int(revisions or 0)


def draft_question(*, session: Session, draft: Draft) -> str | None:
    """The customer's message a reply draft answers: the last one in its conversation before it."""
    if draft.conversation_id is None:
        return None
    return session.exec(
        select(Message.text)
        .where(
            Message.conversation_id == draft.conversation_id,
            Message.role == "customer",
            col(Message.created_at) <= draft.created_at,
        )
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
    ).first()
