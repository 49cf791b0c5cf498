"""Both Bot API transports carry the whole loop: a question and its card, a 429, a file upload."""

from __future__ import annotations

import pytest
from telegram.request import HTTPXRequest

from bot.telegram.transport import AiohttpRequest
from tests.test_telegram import STAFF, run, running_bot, send
from tests.test_telegram import shop, world  # noqa: F401  (the module's indexed shop, the bot's database)


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
def test_each_transport_carries_a_card_a_retry_and_a_file(world, kind):  # noqa: F811
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db, telegram_http=kind) as (fake, _, app):
            assert type(app.bot._request[1]) is (AiohttpRequest if kind == "aiohttp" else HTTPXRequest)
            fake.fail_next("sendMessage", 429, retry_after=1)
            card = await send(fake, STAFF, STAFF, "能开发票吗", containing="草稿 #")
            assert "发票" in card["text"] and card["reply_markup"]
            await app.bot.send_document(STAFF, document="编号,草稿\n1,您好\n".encode(), filename="草稿.csv",
                                        caption="<b>全部草稿</b>")
            assert fake.documents[-1] == (STAFF, "草稿.csv", "编号,草稿\n1,您好\n".encode())

    run(scenario())
