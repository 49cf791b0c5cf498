"""The Telegram bot end to end: a real python-telegram-bot Application talks HTTP to a fake Bot API
server on 127.0.0.1 (tests/telegram_fake.py), with the real drafting, memory and sync services over
a tiny knowledge folder indexed once for the module with the default e5 embedding."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from bot.config import Settings
from bot.drafting.assistant import Assistant
from bot.knowledge.base import KnowledgeBase
from bot.memory.db import init_db, make_engine
from bot.memory.models import Draft, FaqCandidate, StaffState
from bot.telegram import TelegramServices, build_application
from tests.telegram_fake import TOKEN, FakeTelegram

ADMIN, STAFF, MAINTAINER, STRANGER = 1001, 1002, 1003, 6666
GROUP = -100200300

FAQ_CSV = """问题,答案,相似问题
包邮吗？,订单满 99 元包邮，不满 99 元收运费 10 元。,运费怎么算|满多少包邮
多久发货？,付款后 48 小时内从杭州发货，节假日顺延。,什么时候发货|几天能发
可以退货吗？,未拆封的商品签收后 7 天内可以无理由退货，运费由买家承担。,能退吗|怎么退货
能开发票吗？,可以开电子普通发票，下单时备注抬头和税号即可。,开发票|要发票
"""
TEA_MD = """# 茶叶

## 龙井怎么冲泡？
用 80 度左右的水，先注水三分之一浸润茶叶，再注满，两分钟后即可饮用。

## 茶叶保质期多久？
密封避光保存 18 个月，开封后建议三个月内喝完。
"""


def write_shop(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "售后.csv").write_text(FAQ_CSV, encoding="utf-8")
    (folder / "茶叶.md").write_text(TEA_MD, encoding="utf-8")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The tiny shop, indexed once: its settings and knowledge base."""
    root = tmp_path_factory.mktemp("tg-shop")
    write_shop(root / "knowledge")
    settings = Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)
    knowledge = KnowledgeBase(settings)
    report = knowledge.sync()
    assert len(report.added) == 6 and not report.errors
    return settings, knowledge


def bot_settings(base: Settings, fake: FakeTelegram, db: Path, **extra: object) -> Settings:
    return base.model_copy(update={
        "database_url": f"sqlite:///{db}",
        "telegram_token": SecretStr(TOKEN),
        "telegram_base_url": fake.base_url,
        "telegram_base_file_url": fake.base_file_url,
        "telegram_admins": str(ADMIN),
        "telegram_staff": str(STAFF),
        "telegram_maintainers": str(MAINTAINER),
        **extra,
    })


def make_services(settings: Settings, knowledge: KnowledgeBase) -> TelegramServices:
    engine = make_engine(settings)
    init_db(engine)
    return TelegramServices(assistant=Assistant(settings, knowledge=knowledge, engine=engine))


@contextlib.asynccontextmanager
async def polling(services: TelegramServices, fake: FakeTelegram, **kwargs: object) -> AsyncIterator[object]:
    """The application started as `dianxiaoer telegram` starts it, long polling the fake."""
    app = build_application(services, trust_env=False, **kwargs)
    await app.initialize()
    await app.post_init(app)  # run_polling would; initialize() does not
    await app.start()
    await app.updater.start_polling(timeout=2, poll_interval=0)
    try:
        yield app
    finally:
        await fake.release_long_polls()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        fake.reopen()


def run(coro) -> None:
    asyncio.run(coro)


@pytest.fixture
def world(shop, tmp_path):
    base, knowledge = shop
    return base, knowledge, tmp_path / "bot.db"


async def send(fake: FakeTelegram, user_id: int, chat_id: int, text: str, *, name: str = "小王") -> dict:
    """A user writes; returns the bot's first reply to that chat."""
    mark = fake.mark()
    await fake.user_sends(fake.user(user_id, name), chat_id, text)
    return await fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat_id, after=mark)


def card_id(fake: FakeTelegram, chat_id: int, text_part: str) -> int:
    for (chat, message_id), message in reversed(fake.messages.items()):
        if chat == chat_id and text_part in message.get("text", "") and message.get("reply_markup"):
            return message_id
    raise AssertionError(f"no card containing {text_part!r}")


async def click(fake: FakeTelegram, user_id: int, chat_id: int, message_id: int, button: str) -> dict:
    """A user presses a button; returns the bot's answerCallbackQuery."""
    mark = fake.mark()
    update = await fake.user_clicks(fake.user(user_id), chat_id, message_id, button)
    query_id = update["callback_query"]["id"]
    return await fake.wait_for("answerCallbackQuery", lambda p: p["callback_query_id"] == query_id, after=mark)


def test_start_greets_by_role_and_sets_the_command_menu(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            services = make_services(bot_settings(base, fake, db), knowledge)
            async with polling(services, fake):
                reply = await send(fake, STAFF, STAFF, "/start")
                assert "客服" in reply["text"] and "/customer" in reply["text"]
                assert "/reindex" not in reply["text"]  # a staff member is not shown the maintainers' commands
                assert reply["parse_mode"] == "HTML"
                names = {c["command"] for c in fake.commands}
                assert {"start", "help", "customer", "check", "push", "kb", "gaps", "stats"} <= names
                reply = await send(fake, MAINTAINER, MAINTAINER, "/help")
                assert "/reindex" in reply["text"] and "/customer" not in reply["text"]
            assert not fake.unimplemented

    run(scenario())


def test_question_gives_a_card_and_approve_edits_it(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            services = make_services(bot_settings(base, fake, db), knowledge)
            async with polling(services, fake):
                await send(fake, STAFF, STAFF, "/customer C001")
                mark = fake.mark()
                card = await send(fake, STAFF, STAFF, "满多少包邮呀")
                # "typing…" went out before the card
                action = fake.calls_to("sendChatAction", after=mark)
                assert action and action[0].params["action"] == "typing"
                assert action[0].at <= fake.calls_to("sendMessage", after=mark)[0].at
                assert "99" in card["text"] and "包邮吗？" in card["text"] and "可以回复" in card["text"]
                buttons = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
                assert buttons == ["发送 ✅", "修改 ✏️", "转人工 🙋", "拒绝 ❌"]
                message_id = card_id(fake, STAFF, "满多少包邮呀")

                mark = fake.mark()
                answer = await click(fake, STAFF, STAFF, message_id, "发送")
                assert "已通过" in answer["text"]
                edited = await fake.wait_for("editMessageText", after=mark)
                assert edited["message_id"] == message_id
                assert "已通过" in edited["text"] and "<pre>" in edited["text"] and "99" in edited["text"]
                assert "reply_markup" not in edited  # decided: no more buttons
            with Session(services.engine) as session:
                draft = session.exec(select(Draft)).one()
                assert draft.status == "approved" and f"tg {STAFF}" in draft.decided_by
                assert draft.decided_at is not None and draft.decided_at >= draft.created_at
            assert all(fake.answered.values())

    run(scenario())
