"""Draft a reply with an LLM, and refuse the draft unless it is grounded in the cited entries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from bot.drafting.grounding import leaks_instructions, ungrounded_facts
from bot.drafting.prompts import Prompt, neutralise
from bot.knowledge.entries import Hit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLMDraft:
    text: str | None  # None: use the grounded composer instead
    fallback_reason: str | None = None


def format_passages(hits: Sequence[Hit]) -> str:
    return "\n".join(f"[{n}] 问：{h.question}\n答：{h.answer}" for n, h in enumerate(hits, start=1))


def format_history(history: Sequence[tuple[str, str]]) -> str:
    names = {"customer": "客户", "assistant": "客服", "staff": "客服"}
    return "\n".join(f"{names.get(role, role)}：{neutralise(text)}" for role, text in history) or "（无）"


def draft_with_llm(
    model: BaseChatModel,
    prompt: Prompt,
    *,
    shop_name: str,
    question: str,
    history: Sequence[tuple[str, str]],
    hits: Sequence[Hit],
) -> LLMDraft:
    system, user = prompt.render(
        shop_name=shop_name,
        passages=format_passages(hits),
        history=format_history(history),
        question=neutralise(question),
    )
    try:
        reply = model.invoke([SystemMessage(system), HumanMessage(user)])
    except Exception as exc:  # any provider failure means: use the FAQ's own words
        logger.warning("LLM call failed: %s", exc.__class__.__name__)
        return LLMDraft(None, f"大模型调用失败（{exc.__class__.__name__}），已改用知识库原文")
    text = str(reply.content).strip()
    if not text:
        return LLMDraft(None, "大模型返回了空回复，已改用知识库原文")
    if leaks_instructions(text, system):
        return LLMDraft(None, "大模型草稿复述了内部指令，已改用知识库原文")
    invented = ungrounded_facts(text, [f"{h.question}\n{h.answer}" for h in hits])
    if invented:
        return LLMDraft(None, f"大模型草稿含资料中没有的内容：{'、'.join(invented)}，已改用知识库原文")
    return LLMDraft(text)
