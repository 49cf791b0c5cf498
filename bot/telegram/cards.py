"""Cards and keyboards: what staff see for a draft, rendered as Telegram HTML.

Every piece of text that came from a customer, staff, the FAQ or a model goes through
`html.escape`. Callback data is `<action>:<id>[:<n>]`, well under Telegram's 64 bytes; the draft
itself stays in the database, so a button still works after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from html import escape, unescape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.memory.models import Draft, StaffCard
from bot.memory.stats import RESPONSE_STANDARD

MAX_CALLBACK_BYTES = 64
# Telegram refuses messages over 4096 characters; leave room for the card's frame.
MAX_SHOWN_QUESTION = 600
MIN_SHOWN_QUESTION = 120  # shortened before the reply, which staff copy
MAX_SHOWN_REPLY = 2800
MAX_MESSAGE = 4096

ACTIONS = {
    "ok": "approve",
    "ed": "edit",
    "ho": "handoff",
    "no": "reject",
    "pk": "pick",  # pk:<draft>:<n>  the n-th nearest entry answers it
    "ca": "accept_candidate",
    "cd": "dismiss_candidate",
    "pa": "push_approve",
    "pr": "push_regenerate",
    "ps": "push_soften",
    "pb": "push_approve_batch",  # pb:<first draft>  every pending draft of a segment's batch card
}
CODES = {name: code for code, name in ACTIONS.items()}
CHANNEL_NAMES = {"wechat": "微信", "weibo": "微博", "cli": "终端", "telegram": "Telegram"}
STATUS_LINES = {"approved": "✅ 已通过", "edited": "✏️ 已修改", "rejected": "❌ 已拒绝", "sent": "📤 已发送",
                "superseded": "♻️ 已作废：客户消息已更正，请看下方的新草稿"}
# A forward's sender name is the customer's Telegram name (up to 64 characters) or a chat title.
MAX_SHOWN_NAME = 64
# What a greeting's card says instead of a hand-off (a card's reason; serve.py sets it when the
# policy's greeting rule decided): nobody needs to look anything up, and no entry answers 「在吗」.
GREETING_REASON = "客人只是打个招呼，还没说问题"
# A card says how long the customer has waited only when it is worth saying.
SHOW_WAIT_FROM = timedelta(minutes=1)


def callback(action: str, *numbers: int) -> str:
    data = ":".join([CODES[action], *map(str, numbers)])
    if len(data.encode()) > MAX_CALLBACK_BYTES:  # cannot happen with ids, but never send one
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def parse_callback(data: str | None) -> tuple[str, list[int]] | None:
    """(action, numbers) from callback data, or None for anything this bot did not make."""
    if not data:
        return None
    code, *rest = data.split(":")
    if code not in ACTIONS or not rest or not all(p.isdigit() for p in rest):
        return None
    return ACTIONS[code], [int(p) for p in rest]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"…（共 {len(text)} 字，已截断）"


def wait_text(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} 秒"
    if seconds < 3600:
        return f"{seconds // 60} 分 {seconds % 60} 秒"
    return f"{seconds // 3600} 小时 {seconds % 3600 // 60} 分"


@dataclass(frozen=True)
class EntryRef:
    id: str
    question: str
    source: str


def entry_refs(ids: Sequence[str], entries: Mapping[str, Mapping[str, object]]) -> list[EntryRef]:
    """Look entry ids up in the knowledge base; entries removed since are skipped."""
    return [
        EntryRef(i, str(entries[i].get("question", "")), str(entries[i].get("source", "")))
        for i in ids
        if i in entries
    ]


def reply_card(
    draft: Draft,
    card: StaffCard,
    *,
    entries: Mapping[str, Mapping[str, object]],
    channel: str | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The card for a reply draft in its current state, with the buttons that state allows."""
    assert draft.id is not None
    # Escaping makes a reply with links (each & five characters) longer than its words, so the
    # card can pass Telegram's limit: the question (down to MIN_SHOWN_QUESTION), then the reply,
    # then the rest of the question are shown shorter until it fits; its HTML is never cut.
    shown_question, shown_reply = MAX_SHOWN_QUESTION, MAX_SHOWN_REPLY
    text = _card_text(draft, card, entries, channel, shown_question, shown_reply)
    while (over := len(text) - MAX_MESSAGE) > 0 and shown_question + shown_reply > 0:
        over += 40  # room for the 已截断 note that a shorter text gains
        cut = min(over, max(0, shown_question - MIN_SHOWN_QUESTION))
        shown_question, over = shown_question - cut, over - cut
        cut = min(over, shown_reply)
        shown_reply, over = shown_reply - cut, over - cut
        shown_question = max(0, shown_question - over)
        text = _card_text(draft, card, entries, channel, shown_question, shown_reply)
    if len(text) > MAX_MESSAGE:
        # The FAQ's own text alone is too long: plain text, cut so that escaped (a character
        # becomes at most 6) it fits, rather than HTML cut mid-tag.
        text = escape(unescape(re.sub(r"<[^>]*>", "", text))[: MAX_MESSAGE // 6 - 1]) + "…"
    if draft.status != "pending":
        return text, None
    handoff = draft.needs_human or card.escalated
    return text, reply_keyboard(draft.id, handoff=handoff, nearest=entry_refs(card.nearest_entry_ids, entries))


def _card_text(draft: Draft, card: StaffCard, entries: Mapping[str, Mapping[str, object]], channel: str | None,
               shown_question: int, shown_reply: int) -> str:
    who = f"客户 {escape(card.customer_ref)}" if card.customer_ref else "客户"
    where = f"（{CHANNEL_NAMES.get(channel or '', channel)}）" if channel else ""
    origin = f" · 转发自 {escape(clip(card.origin_name, MAX_SHOWN_NAME))}" if card.origin_name else ""
    lines = [f"🧾 <b>草稿 #{draft.id}</b> · {who}{where}{origin}",
             f"<b>客户说：</b>{escape(clip(card.question, shown_question))}"]
    handoff = draft.needs_human or card.escalated
    decided = draft.status != "pending"
    if not decided and card.asked_at is not None and card.created_at - card.asked_at >= SHOW_WAIT_FROM:
        waited = card.created_at - card.asked_at
        late = f"，已超过 {RESPONSE_STANDARD.seconds // 60} 分钟的回复标准" if waited > RESPONSE_STANDARD else ""
        lines.append(f"⏱ 客户发来已 {wait_text(waited)}（按原消息的时间）{late}")
    lines.append("")
    if decided:
        lines.append(f"<b>{STATUS_LINES.get(draft.status, draft.status)}</b>" + _decided_by(draft, card))
        if draft.status in ("rejected", "superseded"):
            lines.append(f"<s>{escape(clip(draft.text, shown_reply))}</s>")
            if draft.status == "superseded":  # the new card says the rest
                return "\n".join(lines)
        else:
            lines += ["可直接复制发送：", f"<pre>{escape(clip(draft.final_text, shown_reply))}</pre>"]
    else:
        lines += ["<b>建议回复：</b>", escape(clip(draft.text, shown_reply)), ""]
    sources = entry_refs(draft.cited_entry_ids, entries)
    if sources and not (handoff and not decided):
        lines.append("<b>依据：</b>")
        lines += [f"{n}. {escape(s.question)} — <i>{escape(s.source)}</i>" for n, s in enumerate(sources, 1)]
    confidence = f"{draft.confidence:.2f}" if draft.confidence is not None else "—"
    if card.chosen_entry_id:
        chosen = entry_refs([card.chosen_entry_id], entries)
        name = escape(chosen[0].question) if chosen else escape(card.chosen_entry_id)
        lines.append(f"📌 由人工选定条目：{name}")
    elif draft.needs_human and card.reason == GREETING_REASON:
        lines.append("👋 <b>打个招呼，等客人说问题</b>（可以先回这句问候）")
    elif draft.needs_human:
        lines.append(f"🙋 <b>需要人工</b>（把握 {confidence}）：{escape(card.reason or '知识库里没有可靠的答案')}")
    elif card.escalated:
        lines.append(f"🙋 <b>已转人工</b>（原把握 {confidence}）")
    else:
        lines.append(f"✓ 可以回复（把握 {confidence}）")
    if draft.note:
        lines.append(f"注：{escape(draft.note)}")
    return "\n".join(lines)


def _decided_by(draft: Draft, card: StaffCard) -> str:
    if not draft.decided_by:
        return ""
    asked = min(draft.created_at, card.asked_at) if card.asked_at else draft.created_at
    waited = f"，问题后 {wait_text(draft.decided_at - asked)}" if draft.decided_at else ""
    return f" · {escape(draft.decided_by)}{waited}"


def reply_keyboard(draft_id: int, *, handoff: bool, nearest: Sequence[EntryRef]) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if handoff:
        rows += [
            [InlineKeyboardButton(f"📌 {clip(e.question, 28)}", callback_data=callback("pick", draft_id, n))]
            for n, e in enumerate(nearest[:3])
        ]
    actions = [
        InlineKeyboardButton("发送 ✅", callback_data=callback("approve", draft_id)),
        InlineKeyboardButton("修改 ✏️", callback_data=callback("edit", draft_id)),
    ]
    if not handoff:
        actions.append(InlineKeyboardButton("转人工 🙋", callback_data=callback("handoff", draft_id)))
    actions.append(InlineKeyboardButton("拒绝 ❌", callback_data=callback("reject", draft_id)))
    rows.append(actions)
    return InlineKeyboardMarkup(rows)


def candidate_keyboard(candidate_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[
            InlineKeyboardButton("采纳入库 ✅", callback_data=callback("accept_candidate", candidate_id)),
            InlineKeyboardButton("忽略 🗑", callback_data=callback("dismiss_candidate", candidate_id)),
        ]]
    )
