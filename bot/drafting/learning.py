"""Learning from staff: a decision on a draft teaches the FAQ how this customer asked.

When staff approve or edit a reply draft, or pick the entry that answers a handed-off message,
the customer's words become a learned phrasing of that entry: a row in the database (so a
re-sync or a new index loses nothing) and one more vector of the entry in the index, searchable
by the next `ask` in this process at once. Rejecting a draft labels the message as one the FAQ
does not answer. Every label is an example the shop's gate can be re-fitted on
(`bot.memory.learned.labelled_questions`).

The database is written first and the index second: if the process dies in between, the next
sync puts the vector in (`KnowledgeBase.apply_learned`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.errors import DianxiaoerError
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.lock import SyncInProgressError
from bot.knowledge.normalize import normalize_message
from bot.memory import crud
from bot.memory.learned import (
    draft_question,
    forget_entries,
    get_learned,
    list_learned,
    move_entries,
    record_label,
    remove_learned,
    vector_id,
)
from bot.memory.models import Draft, LearnedPhrasing

logger = logging.getLogger(__name__)


class DatabaseLearned:
    """The learned phrasings in the database, as the knowledge base's sync reads them.

    `engine` may be a function giving the engine (None when the database cannot be used), so
    that a sync opens the database only when it gets that far.
    """

    def __init__(self, engine: Engine | Callable[[], Engine | None]) -> None:
        self._engine = engine

    def _open(self) -> Engine | None:
        if isinstance(self._engine, Engine):
            return self._engine
        try:
            return self._engine()
        except DianxiaoerError as exc:  # an unreadable memory database must not fail a sync
            logger.warning("learned phrasings not applied: %s", exc)
            return None

    def wanted(self) -> dict[str, tuple[str, str]] | None:
        engine = self._open()
        if engine is None:
            return None
        with Session(engine) as session:
            rows = list_learned(session=session)
        # Embedded and indexed in the FAQ's own script and words, as messages are searched.
        return {vector_id(r): (str(r.entry_id), normalize_message(r.text)) for r in rows}

    def move(self, moves: Mapping[str, str]) -> bool:
        engine = self._open()
        if engine is None:
            return False
        with Session(engine) as session:
            move_entries(session=session, moves=moves)
            session.commit()
        return True

    def forget(self, entry_ids: Collection[str]) -> None:
        engine = self._open()
        if engine is None:
            return
        with Session(engine) as session:
            forget_entries(session=session, entry_ids=entry_ids)
            session.commit()


@dataclass(frozen=True)
class Decision:
    draft: Draft
    learned: LearnedPhrasing | None  # the label recorded, if any
    note: str  # what was learned, for staff


def _require_entry(knowledge: KnowledgeBase, entry_id: str) -> None:
    if entry_id not in knowledge.lexical.entries:
        raise DianxiaoerError(f"条目 {entry_id} 不存在（用 dianxiaoer search --json 查条目编号）")


def _label(
    *,
    session: Session,
    knowledge: KnowledgeBase,
    text: str,
    entry_id: str | None,
    decision: str,
    draft_id: int | None,
    by: str,
) -> LearnedPhrasing:
    """Record the label, commit, then bring the index in line with it."""
    earlier = session.exec(select(LearnedPhrasing).where(LearnedPhrasing.text == text.strip())).first()
    stale = vector_id(earlier) if earlier is not None and earlier.entry_id else None
    row = record_label(session=session, text=text, entry_id=entry_id, decision=decision, draft_id=draft_id, by=by)
    session.commit()
    try:
        if stale and (entry_id is None or stale != vector_id(row)):
            knowledge.remove_learned([stale])
        if entry_id is not None:
            knowledge.add_learned({vector_id(row): (entry_id, normalize_message(row.text))})
    except SyncInProgressError as exc:
        # Recorded all the same: a later sync puts it in the index (KnowledgeBase.sync).
        logger.warning("learned phrasing #%s waits for the next sync: %s", row.id, exc)
    return row


def learn(
    *,
    session: Session,
    knowledge: KnowledgeBase,
    text: str,
    entry_id: str,
    decision: str = "chosen",
    draft_id: int | None = None,
    by: str = "staff",
) -> LearnedPhrasing:
    """Teach the FAQ that `entry_id` answers `text`; the next search finds it. Commits."""
    _require_entry(knowledge, entry_id)
    return _label(
        session=session, knowledge=knowledge, text=text, entry_id=entry_id,
        decision=decision, draft_id=draft_id, by=by,
    )


def record_decision(
    *,
    session: Session,
    knowledge: KnowledgeBase,
    draft_id: int,
    status: str,
    by: str = "staff",
    entry_id: str | None = None,
    edited_text: str | None = None,
) -> Decision:
    """Record staff's decision on a draft and learn from it. Commits.

    approved / edited: the customer's message becomes a phrasing of `entry_id` (without it, of
    the draft's source when it has exactly one); rejected: the message is labelled as one the FAQ
    does not answer.
    """
    if entry_id is not None:
        if status not in ("approved", "edited"):
            raise DianxiaoerError("只有通过或修改草稿时才能指定回答它的条目（--entry）")
        _require_entry(knowledge, entry_id)
    draft = crud.decide_draft(session=session, draft_id=draft_id, status=status, by=by, edited_text=edited_text)
    session.commit()
    if draft.kind != "reply" or status == "sent":
        return Decision(draft, None, "")
    question = draft_question(session=session, draft=draft)
    if not question:
        return Decision(draft, None, "草稿没有对应的顾客消息，未学习")
    if status == "rejected":
        row = _label(
            session=session, knowledge=knowledge, text=question, entry_id=None,
            decision=status, draft_id=draft.id, by=by,
        )
        return Decision(draft, row, f"已记下：知识库不能回答「{question}」")
    if entry_id is None and len(draft.cited_entry_ids) > 1:
        # The message asked several things: as a whole it is a phrasing of none of them.
        return Decision(draft, None, "草稿引用了多个条目，未学习（可用 --entry 指定回答它的条目）")
    target = entry_id or (draft.cited_entry_ids[0] if draft.cited_entry_ids else None)
    if target is None:
        return Decision(draft, None, "草稿没有引用条目，未学习（可用 --entry 指定回答它的条目）")
    if target not in knowledge.lexical.entries:
        return Decision(draft, None, f"草稿引用的条目 {target} 已不在知识库中，未学习")
    row = _label(
        session=session, knowledge=knowledge, text=question, entry_id=target,
        decision=status, draft_id=draft.id, by=by,
    )
    asked = knowledge.lexical.entries[target].get("question", target)
    return Decision(draft, row, f"已学习：「{question}」是「{asked}」的一种问法（#{row.id}）")


def unlearn(*, session: Session, knowledge: KnowledgeBase, learned_id: int) -> LearnedPhrasing:
    """Withdraw a learned phrasing or label; its vector leaves the index at once. Commits."""
    row = get_learned(session=session, learned_id=learned_id)
    stale = vector_id(row) if row.entry_id else None
    remove_learned(session=session, learned_id=learned_id)
    session.commit()
    if stale:
        knowledge.remove_learned([stale])
    return row
