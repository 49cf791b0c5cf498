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
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlmodel import Session, col, select

from bot.errors import DianxiaoerError
from bot.memory.models import FaqCandidate, utcnow

# Accepted answers go to one file of their own, so a maintainer's spreadsheets are never rewritten.
CANDIDATES_FILE = "店员补充.csv"
HEADER = ["问题", "答案"]
# A FAQ question is one line a customer might ask; a paste of a whole chat is not one. Staff's
# message keeps the paste; the FAQ gets one clause of it (see `faq_question`).
MAX_QUESTION_CHARS = 60
MIN_QUESTION_CHARS = 2
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…])|\n+")
_ASKS = re.compile(r"[？?]|吗|呢|么|嘛|啥|什么|怎|多少|多久|几|哪|是否|能否|可否|可以|能不能")
# Line breaks and control characters would make a cell span rows in a spreadsheet or the
# terminal; a question is one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")
# An answer may keep its line breaks (the CSV quotes them), not other control characters.
_CONTROL_IN_ANSWER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def one_line(text: str) -> str:
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def faq_question(text: str, matched: Sequence[str] = ()) -> str | None:
    """The FAQ question to write for a customer's message: the message itself on one line when
    it is short, else of its clauses that ask something, the one the matched entry's wording
    (`matched`: the cited entry's phrasings) covers best, then the latest. None when no clause
    that asks is short enough to be a question."""
    whole = one_line(text)
    if MIN_QUESTION_CHARS <= len(whole) <= MAX_QUESTION_CHARS:
        return whole
    from bot.knowledge.lexical import bigrams

    clauses = [one_line(c) for c in _SENTENCE_END.split(text)]
    asking = [(n, c) for n, c in enumerate(clauses)
              if MIN_QUESTION_CHARS <= len(c) <= MAX_QUESTION_CHARS and _ASKS.search(c)]
    if not asking:
        return None  # the story around a question is no FAQ question
    have = set().union(*map(bigrams, matched))  # once: a paste may have thousands of clauses

    def covered(clause: str) -> float:  # lexical.coverage, with the matched side computed once
        wanted = bigrams(clause)
        return round(len(wanted & have) / len(wanted), 3) if wanted else 0.0

    best = max(asking, key=lambda nc: (covered(nc[1]), nc[0]))
    return best[1]


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


def question_to_write(candidate: FaqCandidate, *, question: str | None = None, matched: Sequence[str] = ()) -> str:
    """The question `accept_candidate` writes for `candidate` (`question`: the maintainer's own)."""
    if question is not None:
        given = one_line(question)
        if not MIN_QUESTION_CHARS <= len(given) <= MAX_QUESTION_CHARS:
            raise DianxiaoerError(
                f"FAQ 问题应为一句话（{MIN_QUESTION_CHARS}–{MAX_QUESTION_CHARS} 字），给出的有 {len(given)} 字")
        return given
    found = faq_question(candidate.question, matched)
    if found is None:
        raise DianxiaoerError(
            f"候选 #{candidate.id} 的问题有 {len(candidate.question)} 字，找不到一句能作为 FAQ 问题的问话"
            f"（每句不超过 {MAX_QUESTION_CHARS} 字）：请把问题和答案直接写进知识库文件，再忽略这条候选")
    return found


def accept_candidate(
    *, session: Session, candidate_id: int, knowledge_dir: Path, by: str,
    question: str | None = None, matched: Sequence[str] = (),
) -> Path:
    """Write the candidate into the knowledge folder's candidates file; return that file.

    The question written is one line (`question_to_write`): a long paste is never a FAQ question,
    and is what the candidate keeps afterwards. The same question written again replaces its
    answer instead of adding a second row.
    """
    candidate = _pending(session, candidate_id)
    candidate.question = question_to_write(candidate, question=question, matched=matched)
    candidate.answer = _CONTROL_IN_ANSWER.sub("", candidate.answer)
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
