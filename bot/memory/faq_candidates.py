"""Answers staff wrote themselves become FAQ candidates; a maintainer accepts one into a knowledge
file (then syncs) or dismisses it.

Keyword-only, the caller owns the session. Accepting writes the knowledge file before the
candidate is marked accepted, and replaces the file atomically, so a crash leaves either the old
file or the new one and the candidate can be accepted again without a duplicate row.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from sqlmodel import Session, col, select

from bot.errors import DianxiaoerError
from bot.memory.models import FaqCandidate, utcnow

# Accepted answers go to one file of their own, so a maintainer's spreadsheets are never rewritten.
CANDIDATES_FILE = "店员补充.csv"
HEADER = ["问题", "答案"]


def add_candidate(
    *, session: Session, question: str, answer: str, draft_id: int | None = None, proposed_by: str = ""
) -> FaqCandidate:
    if not question.strip() or not answer.strip():
        raise DianxiaoerError("候选问答需要问题和答案")
    candidate = FaqCandidate(
        draft_id=draft_id, question=question.strip(), answer=answer.strip(), proposed_by=proposed_by
    )
    session.add(candidate)
    session.flush()
    return candidate


def list_candidates(*, session: Session, status: str = "pending", limit: int = 20) -> list[FaqCandidate]:
    """Candidates with this status, oldest first."""
    query = (
        select(FaqCandidate)
        .where(FaqCandidate.status == status)
        .order_by(col(FaqCandidate.created_at), col(FaqCandidate.id))
        .limit(limit)
    )
    return list(session.exec(query).all())


def count_candidates(*, session: Session, status: str = "pending") -> int:
    return len(session.exec(select(FaqCandidate.id).where(FaqCandidate.status == status)).all())


def _pending(session: Session, candidate_id: int) -> FaqCandidate:
    candidate = session.get(FaqCandidate, candidate_id)
    if candidate is None:
        raise DianxiaoerError(f"候选问答 #{candidate_id} 不存在")
    if candidate.status != "pending":
        raise DianxiaoerError(f"候选问答 #{candidate_id} 已处理（{candidate.status}）")
    return candidate


def accept_candidate(
    *, session: Session, candidate_id: int, knowledge_dir: Path, by: str
) -> Path:
    """Write the candidate into the knowledge folder's candidates file; return that file.

    The same question written again replaces its answer instead of adding a second row.
    """
    candidate = _pending(session, candidate_id)
    path = knowledge_dir / CANDIDATES_FILE
    rows: list[list[str]] = []
    if path.exists():
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = [row for row in csv.reader(handle)][1:]
    for row in rows:
        if row and row[0].strip() == candidate.question:
            row[1:] = [candidate.answer]
            break
    else:
        rows.append([candidate.question, candidate.answer])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    _replace(path, buffer.getvalue())
    candidate.status, candidate.decided_by, candidate.decided_at = "accepted", by, utcnow()
    session.add(candidate)
    session.flush()
    return path


def dismiss_candidate(*, session: Session, candidate_id: int, by: str) -> FaqCandidate:
    candidate = _pending(session, candidate_id)
    candidate.status, candidate.decided_by, candidate.decided_at = "dismissed", by, utcnow()
    session.add(candidate)
    session.flush()
    return candidate


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
