"""Two entries that give the same answer are one answer to the gate: a copied FAQ file (Windows
names it 「… - 副本.csv」) must not make its questions look ambiguous and hand them off."""

from __future__ import annotations

import shutil

from bot.drafting.calibration import shop_gate
from bot.drafting.plan import plan_reply
from bot.knowledge.base import KnowledgeBase

QUESTIONS = ("包邮吗", "运费怎么算", "几天能到", "可以开发票吗", "退货运费谁出")


def _answered(kb: KnowledgeBase) -> dict[str, bool]:
    gate = shop_gate(kb)
    return {q: not plan_reply(q, history=[], search=kb.search, gate=gate, lexical=kb.lexical).handoff
            for q in QUESTIONS}


def test_a_copied_faq_file_answers_what_the_original_did(tmp_path, sample_shop):
    settings = sample_shop.copy_to(tmp_path)
    kb = KnowledgeBase(settings, embedder=sample_shop.embedder)
    before = _answered(kb)
    assert sum(before.values()) >= 3
    original = settings.knowledge_dir / "售后与物流.csv"
    shutil.copy(original, settings.knowledge_dir / "售后与物流 - 副本.csv")
    kb.sync()
    assert _answered(kb) == before
