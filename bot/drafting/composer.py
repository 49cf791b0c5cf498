"""The deterministic grounded composer: a reply built only from the FAQ's own words.

It is what 店小二 offers when no LLM is configured, and what it falls back to when an LLM draft
fails its checks, so it must read like a real shop assistant on its own: a greeting, the
answer exactly as the merchant wrote it, and a closing that invites the next question.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.knowledge.entries import Hit

CLOSING = "还有其他问题随时问我哦～"
HOLDING = "您的问题我已经记下了，需要请同事核实后再给您准确答复，请稍等片刻～"


def _greeting(shop_name: str, customer_name: str | None) -> str:
    who = f"{customer_name}，您好" if customer_name else "您好"
    return f"{who}！这里是{shop_name}。"


def _topic(question: str) -> str:
    return question.rstrip("？?。! ！")


def compose_answer(
    hits: Sequence[Hit], *, shop_name: str, customer_name: str | None = None, pending: Sequence[str] = ()
) -> str:
    """Answer from one or more entries; `pending` names parts that a colleague will follow up."""
    lines = [_greeting(shop_name, customer_name)]
    if len(hits) == 1:
        lines.append(hits[0].answer.strip())
    else:
        lines.extend(f"关于「{_topic(h.question)}」：{h.answer.strip()}" for h in hits)
    if pending:
        asked = "、".join(f"「{p}」" for p in pending)
        lines.append(f"另外您问的{asked}，我请同事确认后再回复您。")
    else:
        lines.append(CLOSING)
    return "\n".join(lines)


def compose_handoff(*, shop_name: str, customer_name: str | None = None) -> str:
    """The holding reply staff can send while a human finds the answer."""
    return f"{_greeting(shop_name, customer_name)}{HOLDING}"
