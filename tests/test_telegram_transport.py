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


def test_aiohttp_errors_are_the_ones_python_telegram_bot_retries():
    """A refused connection is a NetworkError and a silent server a TimedOut, as with httpx:
    the updater backs off and polls again on both instead of dying."""
    import asyncio
    import socket

    from aiohttp import web
    from telegram.error import NetworkError, TimedOut

    async def scenario() -> None:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]

        async def silent(request: web.Request) -> web.Response:
            await asyncio.sleep(1.5)
            return web.json_response({"ok": True, "result": True})

        app = web.Application()
        app.router.add_post("/bot/getMe", silent)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        request = AiohttpRequest(trust_env=False)
        await request.initialize()
        try:
            with pytest.raises(NetworkError) as refused:
                await request.do_request(f"http://127.0.0.1:{closed}/bot/getMe", "POST")
            assert not isinstance(refused.value, TimedOut)
            with pytest.raises(TimedOut):
                await request.do_request(f"http://127.0.0.1:{port}/bot/getMe", "POST", read_timeout=0.3)
        finally:
            await request.shutdown()
            await runner.cleanup()

    asyncio.run(scenario())
