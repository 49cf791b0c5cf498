"""Copy for customers: /check TEXT (the promotional-copy checker) and /push (the push writer)."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import ContextTypes

from bot.compliance.checker import CheckResult, check_text
from bot.errors import DianxiaoerError
from bot.memory import crud, staff
from bot.push.formats import push_format
from bot.push.writer import by_phrase
from bot.telegram.cards import callback, clip
from bot.telegram.common import actor, blocking, edit_quietly, pressed, requires, services, session, topic, typing

CHANNELS = {"wechat": "wechat", "微信": "wechat", "weibo": "weibo", "微博": "weibo"}
SEVERITY = {"high": "高", "medium": "中", "low": "低"}
SHOWN_FINDINGS = 8
# A phrase a finding quotes can be a run of a thousand ！ or 🔥: its start says which it is.
SHOWN_PHRASE = 40


def check_report(result: CheckResult) -> str:
    verdict = "⚠️ 过度营销" if result.flagged else "✅ 可以发布"
    lines = [f"<b>{verdict}</b> · 得分 {result.score}（阈值 {result.threshold}）"]
    for finding in result.findings[:SHOWN_FINDINGS]:
        lines.append(
            f"• 「{html.escape(clip(finding.span.text, SHOWN_PHRASE))}」{html.escape(finding.category_label)}"
            f"（{SEVERITY.get(finding.severity, finding.severity)}）：{html.escape(finding.reason)}"
            f"\n  依据：{html.escape(finding.basis)}；建议：{html.escape(finding.suggestion)}"
        )
    if len(result.findings) > SHOWN_FINDINGS:
        lines.append(f"…另有 {len(result.findings) - SHOWN_FINDINGS} 处")
    if result.rewrite.strip() != "" and result.findings:
        lines += ["<b>合规改写：</b>", f"<pre>{html.escape(clip(result.rewrite, 2500))}</pre>"]
    return "\n".join(lines)


@requires("copy")
async def check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    assert msg is not None and msg.text is not None
    # Copy is often pasted on the line under the command, or after the IME's full-width space:
    # any whitespace ends the command (and the channel word), and the copy keeps its own lines.
    body = (msg.text.split(maxsplit=1)[1:] or [""])[0].strip()
    channel = "wechat"
    first, *rest = body.split(maxsplit=1) or [""]
    if first.lower() in CHANNELS and rest:
        channel, body = CHANNELS[first.lower()], rest[0].strip()
    if not body:
        raise DianxiaoerError("用法：/check [wechat|weibo] 要检查的文案")
    svc = services(context)
    result = await blocking(check_text, body, channel=channel, model=svc.checker_model, settings=svc.settings)
    await msg.reply_text(check_report(result))


PUSH_USAGE = (
    "用法：/push 渠道 格式 要点… [客户编号|#分组]\n"
    "渠道与格式：wechat article|service|moments，weibo post|dm\n"
    "例如：/push wechat service 明前龙井到货，3月20日前下单满200减20 C001"
)


def parse_push(args: list[str], is_customer: Callable[[str], bool]) -> tuple[str, str, str, str | None, str | None]:
    """(channel, format, brief, customer_ref, segment) from /push's words.

    The last word is the target when it is `#tag` (a segment; a Weibo topic `#…#` is part of the
    brief) or a known customer; everything between the format and it is the brief.
    """
    if len(args) < 3:
        raise DianxiaoerError(PUSH_USAGE)
    channel, fmt, rest = CHANNELS.get(args[0].lower(), args[0].lower()), args[1].lower(), args[2:]
    customer = segment = None
    last = rest[-1]
    if len(rest) > 1 and last.startswith("#") and not last.endswith("#") and len(last) > 1:
        segment, rest = last[1:], rest[:-1]
    elif len(rest) > 1 and is_customer(last):
        customer, rest = last, rest[:-1]
    return channel, fmt, " ".join(rest), customer, segment


def push_card(draft: Any, *, status: str | None = None) -> tuple[str, InlineKeyboardMarkup | None]:
    """A push draft with the checker's verdict; buttons while it is undecided."""
    who = f" · 客户 {html.escape(draft.customer)}" if draft.customer else ""
    lines = [f"📣 <b>推送草稿 #{draft.draft_id}</b>（{html.escape(draft.channel)}/{html.escape(draft.format)}{who}）"]
    if status:
        lines.append(f"<b>{status}</b>")
    if draft.title:
        lines.append(f"<b>标题：</b>{html.escape(draft.title)}")
    if draft.digest:
        lines.append(f"<b>摘要：</b>{html.escape(draft.digest)}")
    lines.append(f"<pre>{html.escape(clip(draft.text, 2500))}</pre>")
    verdict = "⚠️ 未通过" if draft.check.flagged else "✅ 通过"
    lines.append(f"合规检查：{verdict}（{draft.check.score} 分）" + ("，已按检查结果改写" if draft.changed else ""))
    for phrase, found in by_phrase([*draft.check.findings, *draft.dropped])[:SHOWN_FINDINGS]:
        reasons = "；".join(f"{html.escape(f.reason)}（{html.escape(f.basis)}）" for f in found)
        lines.append(f"• 「{html.escape(clip(phrase, SHOWN_PHRASE))}」{reasons}")
    if draft.sources:
        lines.append("依据：" + "；".join(html.escape(h.question) for h in draft.sources))
    if draft.note:
        lines.append(f"注：{html.escape(draft.note)}")
    if status or draft.draft_id is None:
        return "\n".join(lines), None
    keyboard = InlineKeyboardMarkup([[
        InlineKeyboardButton("通过 ✅", callback_data=callback("push_approve", draft.draft_id)),
        InlineKeyboardButton("换一版 🔄", callback_data=callback("push_regenerate", draft.draft_id)),
        InlineKeyboardButton("更克制 🕊", callback_data=callback("push_soften", draft.draft_id)),
    ]])
    return "\n".join(lines), keyboard


SHOWN_REFUSALS = 20


def _refusals(result: Any) -> str:
    """Who is not written to and why; a large segment's list is cut to fit one message (Telegram
    refuses one over 4096 characters, and the drafts would not be shown either)."""
    lines = []
    for r in result.refused[:SHOWN_REFUSALS]:
        when = f"，最早 {r.next_allowed_at.astimezone().strftime('%m-%d %H:%M')}" if r.next_allowed_at else ""
        lines.append(f"✗ 不发给 {html.escape(clip(r.customer, 40))}：{html.escape(clip(r.reason, 120))}{when}")
    if len(result.refused) > SHOWN_REFUSALS:
        lines.append(f"…另有 {len(result.refused) - SHOWN_REFUSALS} 位客户不发（共 {len(result.refused)} 位）")
    return "\n".join(lines)


def _writer(context: ContextTypes.DEFAULT_TYPE) -> Any:
    writer = services(context).push_writer
    if writer is None:
        raise DianxiaoerError("推送起草不可用：没有配置推送文案模块。")
    return writer


def args_head(context: ContextTypes.DEFAULT_TYPE) -> str:
    return " ".join((context.args or [])[:2])


@requires("copy")
async def push(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    msg = update.effective_message
    assert msg is not None
    writer = _writer(context)

    def is_customer(word: str) -> bool:
        with session(context) as db:
            return crud.find_customer(session=db, ref=word) is not None

    channel, fmt, brief, customer, segment = parse_push(list(context.args or []), is_customer)
    if customer is None and segment is None and push_format(channel, fmt).per_customer:
        # Otherwise a mistyped customer id would silently become the brief's last word.
        last = brief.split()[-1] if brief.split() else ""
        unknown = f"（「{last}」不在客户资料里）" if re.fullmatch(r"[A-Za-z0-9_-]+", last) else ""
        raise DianxiaoerError(
            f"{push_format(channel, fmt).label}是一对一消息：请在最后写上客户编号或 #分组{unknown}，"
            f"例如 /push {args_head(context)} 要点… C001"
        )
    async with typing(context, msg.chat_id, topic(msg)):
        result = await blocking(writer.draft, channel=channel, fmt=fmt, brief=brief,
                                customer_ref=customer, segment=segment)
    if result.refused:
        await msg.reply_text(_refusals(result))
    if not result.drafts:
        if not result.refused:
            await msg.reply_text("没有能通过合规检查的草稿，请改写要点再试。")
        return
    if len(result.drafts) > CARDS_AT_MOST:
        await _batch(context, msg, result.drafts, channel=channel, fmt=fmt, brief=brief, segment=segment)
        return
    for draft in result.drafts:
        text, markup = push_card(draft)
        sent = await msg.reply_text(text, reply_markup=markup)
        with session(context) as db:
            staff.record_push_card(
                session=db, draft_id=draft.draft_id, chat_id=sent.chat_id, message_id=sent.message_id,
                channel=channel, fmt=fmt, brief=brief,
                customer_ref=draft.customer, segment=None if draft.customer else segment,
            )
            db.commit()


# A segment's one-to-one drafts beyond this many come as one card and a file: three hundred cards
# would bury the chat (and take Telegram ten seconds to send).
CARDS_AT_MOST = 5
PREVIEWED = 3


def batch_card(drafts: list[Any], *, channel: str, fmt: str, segment: str | None,
               status: str | None = None) -> tuple[str, InlineKeyboardMarkup | None]:
    """One card for a segment's one-to-one drafts: counts, the checker's verdict, a few previews;
    one button approves every draft still pending."""
    label = push_format(channel, fmt).label
    group = f" · 分组 #{html.escape(segment)}" if segment else ""
    rewritten = sum(d.changed for d in drafts)
    lines = [f"📣 <b>{html.escape(label)}{group}：{len(drafts)} 条一对一草稿</b>（{html.escape(channel)}/{html.escape(fmt)}）"]
    if status:
        lines.append(f"<b>{status}</b>")
    lines.append("合规检查：全部通过" + (f"，其中 {rewritten} 条已按检查结果改写" if rewritten else ""))
    for d in drafts[:PREVIEWED]:
        lines.append(f"• 客户 {html.escape(clip(d.customer or '', 40))}（#{d.draft_id}）：{html.escape(clip(d.text, 160))}")
    if len(drafts) > PREVIEWED:
        lines.append(f"…另有 {len(drafts) - PREVIEWED} 条，全部草稿见附件（CSV：草稿编号、客户、文案）")
    if status:
        return "\n".join(lines), None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(
        f"全部通过 ✅（{len(drafts)} 条）", callback_data=callback("push_approve_batch", drafts[0].draft_id))]])
    return "\n".join(lines), keyboard


def batch_file(drafts: list[Any]) -> bytes:
    """The drafts as CSV, with a byte-order mark so that Excel reads the Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["草稿编号", "客户", "文案", "合规得分", "已改写"])
    for d in drafts:
        writer.writerow([d.draft_id, _cell(d.customer or ""), _cell(d.text), d.check.score, "是" if d.changed else "否"])
    return out.getvalue().encode("utf-8-sig")


def _cell(text: str) -> str:
    # A cell a spreadsheet would run as a formula (a customer imported as "=HYPERLINK(…)") is
    # shown as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def _batch(context: ContextTypes.DEFAULT_TYPE, msg: Any, drafts: list[Any], *, channel: str, fmt: str,
                 brief: str, segment: str | None) -> None:
    text, markup = batch_card(drafts, channel=channel, fmt=fmt, segment=segment)
    sent = await msg.reply_text(text, reply_markup=markup)
    with session(context) as db:
        for draft in drafts:
            staff.record_push_card(
                session=db, draft_id=draft.draft_id, chat_id=sent.chat_id, message_id=sent.message_id,
                channel=channel, fmt=fmt, brief=brief, customer_ref=draft.customer, segment=segment,
            )
        db.commit()
    name = f"push-{channel}-{fmt}-{drafts[0].draft_id}.csv"
    await sent.reply_document(InputFile(batch_file(drafts), filename=name), caption=f"{len(drafts)} 条草稿")


@requires("copy")
async def push_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if (press := await pressed(update)) is None:
        return
    query, user, action, (draft_id, *_) = press
    if action == "push_approve_batch":
        await _approve_batch(query, user, context, draft_id)
        return
    with session(context) as db:
        draft = crud.get_draft(session=db, draft_id=draft_id)
        card = staff.get_push_card(session=db, draft_id=draft_id)
    if draft.status != "pending":
        await query.answer(f"推送草稿 #{draft_id} 已由 {draft.decided_by or '他人'} 处理。")
        return
    if action == "push_approve":
        with session(context) as db:
            crud.decide_draft(session=db, draft_id=draft_id, status="approved", by=actor(user))
            db.commit()
        await query.answer("已通过，可以复制发布")
        who = f" · 客户 {html.escape(card.customer_ref)}" if card.customer_ref else ""
        await edit_quietly(query.message, (  # type: ignore[arg-type]
            f"📣 <b>推送草稿 #{draft_id}</b>（{html.escape(card.channel)}/{html.escape(card.fmt)}{who}）\n"
            f"<b>✅ 已通过 · {html.escape(actor(user))}</b>，可直接复制发布：\n"
            + (f"{html.escape(draft.note)}\n" if draft.note else "") +
            f"<pre>{html.escape(clip(draft.text, 3000))}</pre>"
        ))
        return
    soften = card.soften or action == "push_soften"
    seed = card.seed + 1
    writer = _writer(context)
    result = await blocking(writer.draft, channel=card.channel, fmt=card.fmt, brief=card.brief,
                            customer_ref=card.customer_ref, segment=card.segment, soften=soften, seed=seed)
    if not result.drafts:
        reason = _refusals(result) or "没有能通过合规检查的新草稿"
        await query.answer(clip(reason, 190), show_alert=True)
        return
    fresh = result.drafts[0]
    with session(context) as db:
        crud.decide_draft(session=db, draft_id=draft_id, status="rejected", by=actor(user))
        for extra in result.drafts[1:]:  # a segment broadcast gives one; keep no orphans
            crud.decide_draft(session=db, draft_id=extra.draft_id, status="rejected", by=actor(user))
        staff.record_push_card(
            session=db, draft_id=fresh.draft_id, chat_id=card.chat_id, message_id=card.message_id,
            channel=card.channel, fmt=card.fmt, brief=card.brief, customer_ref=card.customer_ref,
            segment=card.segment, seed=seed, soften=soften,
        )
        db.commit()
    await query.answer("已换一版" if action == "push_regenerate" else "已改得更克制")
    text, markup = push_card(fresh)
    await edit_quietly(query.message, text, reply_markup=markup)  # type: ignore[arg-type]


async def _approve_batch(query: Any, user: Any, context: ContextTypes.DEFAULT_TYPE, draft_id: int) -> None:
    """全部通过 on a batch card: every draft of it still pending is approved; one a colleague
    already decided stays as they decided it."""
    with session(context) as db:
        cards = staff.push_batch(session=db, card=staff.get_push_card(session=db, draft_id=draft_id))
        drafts = [crud.get_draft(session=db, draft_id=c.draft_id) for c in cards]
        pending = [d for d in drafts if d.status == "pending"]
        for draft in pending:
            crud.decide_draft(session=db, draft_id=draft.id, status="approved", by=actor(user))
        db.commit()
    if not pending:
        await query.answer("这批草稿已全部处理过了。")
        return
    earlier = len(drafts) - len(pending)
    await query.answer(f"已通过 {len(pending)} 条")
    first = cards[0]
    shown = [_Shown(d.id, c.customer_ref, d.text) for d, c in zip(drafts, cards, strict=True)]
    status = f"✅ 已全部通过 · {html.escape(actor(user))}：{len(pending)} 条" + (f"（{earlier} 条此前已处理）" if earlier else "")
    text, _ = batch_card(shown, channel=first.channel, fmt=first.fmt, segment=first.segment, status=status)
    await edit_quietly(query.message, text)


@dataclass
class _Shown:
    """A stored push draft as batch_card reads it (after a restart there is no PushDraft left)."""

    draft_id: int | None
    customer: str | None
    text: str
    changed: bool = False
