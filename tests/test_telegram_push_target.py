"""/push to one customer or a segment from Telegram: a mistyped customer id is named, not pasted into
the copy; a large segment's refusals still fit one message."""

from __future__ import annotations

from bot.push.writer import PushWriter
from tests.test_telegram import ADMIN, run, running_bot, send
from tests.test_telegram import shop  # noqa: F401  (the module's indexed shop)


def test_a_one_to_one_push_without_a_known_customer_names_the_unknown_id(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, _):
            services.push_writer = PushWriter(services.settings, engine=services.engine, knowledge=knowledge)
            reply = await send(fake, ADMIN, ADMIN, "/push wechat service 明前龙井到货 C009")
            text = reply["text"]
            assert "一对一" in text and "「C009」不在客户资料里" in text and "客户编号或 #分组" in text, text
            assert "--customer" not in text  # the CLI's flags mean nothing in a chat
            reply = await send(fake, ADMIN, ADMIN, "/push weibo dm 新品到货")
            assert "客户编号或 #分组" in reply["text"] and "不在客户资料里" not in reply["text"], reply["text"]
            reply = await send(fake, ADMIN, ADMIN, "/push wechat moments 明前龙井到货")  # for everyone
            assert "推送草稿 #" in reply["text"], reply["text"]

    run(scenario())


def test_a_large_segments_refusals_fit_one_message():
    from datetime import UTC, datetime

    from bot.push.writer import PushResult, Refusal
    from bot.telegram.copywriting import _refusals
    from tests.telegram_fake import check_html

    refused = [Refusal(customer=f"老客户{n:03d}", reason="本月已收到 4 条推送，已达上限（每月 4 条）",
                       next_allowed_at=datetime(2026, 12, 31, 8, tzinfo=UTC)) for n in range(300)]
    text = _refusals(PushResult(drafts=[], refused=refused))
    assert len(text) <= 4096 and "老客户000" in text and "另有 280 位" in text
    check_html(text)
