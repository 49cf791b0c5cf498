"""Copy for customers: /check TEXT (the promotional-copy checker) and /push (the push writer)."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot.compliance.checker import CheckResult, check_text
from bot.errors import DianxiaoerError
from bot.telegram.cards import clip
from bot.telegram.common import blocking, requires, services

CHANNELS = {"wechat": "wechat", "微信": "wechat", "weibo": "weibo", "微博": "weibo"}
SEVERITY = {"high": "高", "medium": "中", "low": "低"}
SHOWN_FINDINGS = 8


def check_report(result: CheckResult) -> str:
    verdict = "⚠️ 过度营销" if result.flagged else "✅ 可以发布"
    lines = [f"<b>{verdict}</b> · 得分 {result.score}（阈值 {result.threshold}）"]
    for finding in result.findings[:SHOWN_FINDINGS]:
        lines.append(
            f"• 「{html.escape(finding.span.text)}」{html.escape(finding.category_label)}"
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
    body = msg.text.partition(" ")[2].strip()
    channel = "wechat"
    first, _, rest = body.partition(" ")
    if first.lower() in CHANNELS and rest.strip():
        channel, body = CHANNELS[first.lower()], rest.strip()
    if not body:
        raise DianxiaoerError("用法：/check [wechat|weibo] 要检查的文案")
    svc = services(context)
    result = await blocking(check_text, body, channel=channel, model=svc.checker_model, settings=svc.settings)
    await msg.reply_text(check_report(result))


@requires("copy")
async def push(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if services(context).push_writer is None:
        raise DianxiaoerError("推送起草还不可用：这个版本没有装上推送文案模块。")
    raise DianxiaoerError("推送起草还不可用。")


@requires("copy")
async def push_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer("推送起草还不可用。", show_alert=True)
