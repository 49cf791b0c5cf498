"""Accepting a FAQ candidate whose question was a long paste: the FAQ gets one question, and the
candidates file stays a file that syncs."""

from __future__ import annotations

import csv

import pytest
from sqlmodel import Session, create_engine

from bot.config import Settings
from bot.errors import DianxiaoerError
from bot.knowledge.base import KnowledgeBase
from bot.memory import faq_candidates
from bot.memory.db import init_db
from bot.memory.faq_candidates import CANDIDATES_FILE, MAX_QUESTION_CHARS, faq_question

STORY = "我上个月在你们家买过两次茶，一次是给我爸买的龙井，一次是自己喝的白茶，总体都挺满意的。" * 21
PASTE = (STORY + "\n\n客户原话如下：\n" + "快递一直没到，我也不知道该问谁" + "。" + STORY
         + "\n另外，偏远地区一般几天能到货？\n" + STORY)


@pytest.fixture
def session(tmp_path):  # SQLite only: what is tested here is the file, not the database
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    init_db(engine)
    with Session(engine) as s:
        yield s


def test_the_paste_is_long():
    assert len(PASTE) > 2700 and "\n" in PASTE


def test_a_short_question_is_written_as_asked_on_one_line():
    assert faq_question("能寄到\n新疆吗？") == "能寄到 新疆吗？"


def test_a_long_paste_gives_the_clause_the_matched_entry_covers():
    matched = ["一般几天能到货？", "多久能收到", "几天到"]
    assert faq_question(PASTE, matched) == "另外，偏远地区一般几天能到货？"


def test_without_a_matched_entry_a_clause_that_asks_is_chosen():
    question = faq_question(PASTE)
    assert question is not None and len(question) <= MAX_QUESTION_CHARS and "？" in question


def test_a_paste_with_no_clause_short_enough_is_none():
    assert faq_question("茶" * 2700) is None


def test_accepting_a_long_paste_writes_one_question_and_the_file_syncs(session, tmp_path, e5):
    folder = tmp_path / "knowledge"
    answer = "偏远地区（新疆、西藏、青海）5–7 天到货。\n发货后订单里会更新快递单号，\"顺丰\"和 EMS 都可以查。"
    candidate = faq_candidates.add_candidate(session=session, question=PASTE, answer=answer)
    short = faq_candidates.add_candidate(session=session, question="能开专票吗", answer="暂不开增值税专用发票。")
    path = faq_candidates.accept_candidate(session=session, candidate_id=candidate.id, knowledge_dir=folder,
                                           by="m", matched=["一般几天能到货？", "几天到"])
    faq_candidates.accept_candidate(session=session, candidate_id=short.id, knowledge_dir=folder, by="m")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["问题", "答案"], ["另外，偏远地区一般几天能到货？", answer], ["能开专票吗", "暂不开增值税专用发票。"]]
    assert candidate.question == "另外，偏远地区一般几天能到货？"  # what the FAQ holds now

    report = KnowledgeBase(Settings(data_dir=tmp_path / "data", knowledge_dir=folder, _env_file=None),
                           embedder=e5).sync()
    assert not report.errors and not report.warnings and len(report.added) == 2
    # Accepting the same question again replaces its row: still two entries.
    again = faq_candidates.add_candidate(session=session, question=PASTE, answer="5–7 天。")
    faq_candidates.accept_candidate(session=session, candidate_id=again.id, knowledge_dir=folder, by="m",
                                    matched=["一般几天能到货？"])
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.reader(handle))) == 3


def test_a_paste_with_no_question_is_refused_with_a_clear_message_and_nothing_written(session, tmp_path):
    candidate = faq_candidates.add_candidate(session=session, question="茶" * 2700, answer="好的")
    with pytest.raises(DianxiaoerError, match=r"2700 字.*知识库文件"):
        faq_candidates.accept_candidate(session=session, candidate_id=candidate.id, knowledge_dir=tmp_path, by="m")
    assert not (tmp_path / CANDIDATES_FILE).exists() and candidate.status == "pending"


def test_the_maintainer_may_give_the_question_and_it_must_be_one(session, tmp_path):
    candidate = faq_candidates.add_candidate(session=session, question="茶" * 2700, answer="好的")
    with pytest.raises(DianxiaoerError, match="一句话"):
        faq_candidates.accept_candidate(session=session, candidate_id=candidate.id, knowledge_dir=tmp_path,
                                        by="m", question="问" * 200)
    faq_candidates.accept_candidate(session=session, candidate_id=candidate.id, knowledge_dir=tmp_path,
                                    by="m", question="  能寄到\n西藏吗？ ")
    assert (tmp_path / CANDIDATES_FILE).read_text(encoding="utf-8").splitlines()[1] == "能寄到 西藏吗？,好的"
