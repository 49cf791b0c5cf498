"""Threads of one process take turns to write the SQLite memory (bot/memory/db.py)."""

from __future__ import annotations

import threading
import time

from sqlmodel import Session, select

from bot.config import Settings
from bot.memory import crud
from bot.memory.db import init_db, make_engine
from bot.memory.models import Draft


def engine_at(tmp_path):
    engine = make_engine(Settings(data_dir=tmp_path, knowledge_dir=tmp_path, _env_file=None,
                                  database_url=f"sqlite:///{tmp_path / 'memory.db'}"))
    init_db(engine)
    return engine


def test_a_second_writer_waits_for_the_first_transaction_then_both_are_kept(tmp_path):
    engine = engine_at(tmp_path)
    first = Session(engine)
    crud.create_draft(session=first, text="第一", channel="wechat", confidence=1.0)  # holds the turn
    finished: list[float] = []

    def second() -> None:
        with Session(engine) as session:
            crud.create_draft(session=session, text="第二", channel="wechat", confidence=1.0)
            session.commit()
        finished.append(time.monotonic())

    other = threading.Thread(target=second)
    other.start()
    time.sleep(0.3)
    assert not finished  # still waiting its turn, not failed
    committed = time.monotonic()
    first.commit()
    first.close()
    other.join(5)
    assert finished and finished[0] >= committed
    with Session(engine) as session:
        assert sorted(d.text for d in session.exec(select(Draft))) == ["第一", "第二"]


def test_a_transaction_closed_without_commit_hands_the_turn_on(tmp_path):
    engine = engine_at(tmp_path)
    abandoned = Session(engine)
    crud.create_draft(session=abandoned, text="没提交", channel="wechat", confidence=1.0)
    abandoned.close()  # rolled back: its turn ends with it
    started = time.monotonic()
    with Session(engine) as session:
        crud.create_draft(session=session, text="下一个", channel="wechat", confidence=1.0)
        session.commit()
    assert time.monotonic() - started < 1.0
    with Session(engine) as session:
        assert [d.text for d in session.exec(select(Draft))] == ["下一个"]


def test_reads_do_not_wait_for_a_writer(tmp_path):
    engine = engine_at(tmp_path)
    with Session(engine) as session:
        crud.create_draft(session=session, text="旧的", channel="wechat", confidence=1.0)
        session.commit()
    writer = Session(engine)
    crud.create_draft(session=writer, text="写了一半", channel="wechat", confidence=1.0)
    started = time.monotonic()
    with Session(engine) as session:
        assert [d.text for d in session.exec(select(Draft))] == ["旧的"]
    assert time.monotonic() - started < 1.0
    writer.rollback()
    writer.close()
