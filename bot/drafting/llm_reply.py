"""Draft a reply with an LLM, and refuse the draft unless it is grounded in the cited entries.

The model only words an answer; it never decides one. Its draft is thrown away — and the
grounded composer's text used instead — when the call fails, the reply is empty, it repeats
the instructions, it states a figure, discount, date or offer the cited entries do not, or it
says something with them that they do not (bot/drafting/claims.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from bot.drafting.claims import unsupported_claims
from bot.drafting.grounding import leaks_instructions, ungrounded_facts
from bot.drafting.prompts import Prompt, neutralise
from bot.knowledge.entries import Hit

logger = logging.getLogger(__name__)

FALLBACK = "已改用知识库原文"
ROLE_NAMES = {"customer": "客户", "assistant": "客服", "staff": "客服"}


@dataclass(frozen=True)
class LLMDraft:
    text: str | None  # None: use the grounded composer instead
    fallback_reason: str | None = None  # why, in Chinese, for staff


def format_passages(hits: Sequence[Hit]) -> str:
    return (
        "\n".join(
            f"[{n}] 问：{neutralise(h.question)}\n答：{neutralise(h.answer)}"
            for n, h in enumerate(hits, start=1)
        )
        or "（无）"
    )


def format_history(history: Sequence[tuple[str, str]]) -> str:
    return (
        "\n".join(f"{ROLE_NAMES.get(role, '客户')}：{neutralise(text)}" for role, text in history)
        or "（无）"
    )


def draft_with_llm(
    model: BaseChatModel,
    prompt: Prompt,
    *,
    shop_name: str,
    question: str,
    history: Sequence[tuple[str, str]],
    hits: Sequence[Hit],
) -> LLMDraft:
    """Ask `model` to word a reply from `hits`; a draft failing a check comes back as text=None."""
    system, user = prompt.render(
        shop_name=shop_name,
        passages=format_passages(hits),
        history=format_history(history),
        question=neutralise(question),
    )
    try:
        reply = model.invoke([SystemMessage(system), HumanMessage(user)])
    except Exception as exc:  # any provider failure (timeout, refused, bad key) means: use the FAQ
        # Only the class name: provider messages can echo request details.
        logger.warning("LLM call failed: %s", exc.__class__.__name__)
        return LLMDraft(None, f"大模型调用失败（{exc.__class__.__name__}），{FALLBACK}")
    text = reply.text.strip()
    if not text:
        return LLMDraft(None, f"大模型返回了空回复，{FALLBACK}")
    # The shop's name is in the instructions and may rightly be in a reply: don't count it.
    instructions = system.replace(shop_name, "\n") if shop_name else system
    if leaks_instructions(text, instructions):
        return LLMDraft(None, f"大模型草稿复述了内部指令，{FALLBACK}")
    sources = [shop_name, *(f"{h.question}\n{h.answer}" for h in hits)]
    invented = ungrounded_facts(text, sources)
    if invented:
        return LLMDraft(None, f"大模型草稿含资料中没有的内容：{'、'.join(invented)}，{FALLBACK}")
    # Every figure is in the sources; what the draft says with them must be too.
    unsupported = unsupported_claims(text, sources)
    if unsupported:
        return LLMDraft(None, f"大模型草稿的说法资料不支持：{'；'.join(unsupported)}，{FALLBACK}")
    return LLMDraft(text)
