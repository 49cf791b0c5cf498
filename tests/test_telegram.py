"""The Telegram bot end to end: a real python-telegram-bot Application talks HTTP to a fake Bot API
server on 127.0.0.1 (tests/telegram_fake.py), with the real drafting, memory and sync services over
a tiny knowledge folder indexed once for the module with the default e5 embedding."""

from __future__ import annotations

import asyncio
import contextlib
import html
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
from bot.memory.models import Draft, FaqCandidate, LearnedPhrasing, StaffCard, StaffState
from bot.push.writer import PushWriter
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


@pytest.fixture(autouse=True)
def typing_at_once(monkeypatch):
    # These tests read "typing…" as the sign that a message was taken for drafting; the delay
    # before it (common.TYPING_AFTER_SECONDS) has its own test below.
    monkeypatch.setattr("bot.telegram.common.TYPING_AFTER_SECONDS", 0)


@pytest.fixture(scope="module")
def shop(tmp_path_factory, e5):
    """The tiny shop, indexed once: its settings and knowledge base."""
    root = tmp_path_factory.mktemp("tg-shop")
    write_shop(root / "knowledge")
    settings = Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)
    knowledge = KnowledgeBase(settings, embedder=e5)
    report = knowledge.sync()
    assert len(report.added) == 6 and not report.errors
    return settings, knowledge


def bot_settings(base: Settings, fake: FakeTelegram, db: Path | str, **extra: object) -> Settings:
    return base.model_copy(update={
        "database_url": db if isinstance(db, str) else f"sqlite:///{db}",  # str: a PostgreSQL URL
        "telegram_token": SecretStr(TOKEN),
        "telegram_base_url": fake.base_url,
        "telegram_base_file_url": fake.base_file_url,
        "telegram_admins": str(ADMIN),
        "telegram_staff": str(STAFF),
        "telegram_maintainers": str(MAINTAINER),
        # These tests push with the real clock at any hour; quiet hours are tested with a fixed
        # clock in tests/test_frequency.py and tests/test_push_writer.py.
        "quiet_hours_start": 0,
        "quiet_hours_end": 0,
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


@contextlib.asynccontextmanager
async def running_bot(
    base: Settings, knowledge: KnowledgeBase, db: Path | str, **settings: object,
) -> AsyncIterator[tuple[FakeTelegram, TelegramServices, object]]:
    """A fake Bot API and the bot long polling it over the database `db`: (fake, services, app).
    The services stay usable after the block, to read what the bot stored."""
    async with FakeTelegram() as fake:
        services = make_services(bot_settings(base, fake, db, **settings), knowledge)
        async with polling(services, fake) as app:
            yield fake, services, app


async def idle(app, fake: FakeTelegram, timeout: float = 10.0) -> None:
    """Wait until every update queued so far was fetched and handled (no reply is needed)."""
    last = fake.make_update()["update_id"]  # ids are increasing: everything before this one
    deadline = asyncio.get_running_loop().time() + timeout
    quiet = 0  # two looks in a row, so an update between the queue and its task is not missed
    while asyncio.get_running_loop().time() < deadline:
        fetched = any(c.method == "getUpdates" and (c.params.get("offset") or 0) >= last for c in fake.calls)
        busy = not app.update_queue.empty() or app.update_processor.current_concurrent_updates
        quiet = quiet + 1 if fetched and not busy else 0
        if quiet == 2:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot did not go idle")


def run(coro) -> None:
    asyncio.run(coro)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(shop, tmp_path, request):
    """The shop, and the bot's database: a SQLite file, or a new database on the test PostgreSQL."""
    base, knowledge = shop
    if request.param == "postgresql":
        return base, knowledge, request.getfixturevalue("postgres").create_database("telegram")
    return base, knowledge, tmp_path / "bot.db"


async def send(fake: FakeTelegram, user_id: int, chat_id: int, text: str, *, name: str = "小王",
               containing: str = "") -> dict:
    """A user writes; returns the bot's first reply to that chat (the first containing `containing`)."""
    mark = fake.mark()
    await fake.user_sends(fake.user(user_id, name), chat_id, text)
    return await fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat_id and containing in p["text"], after=mark)


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


async def start_edit(fake: FakeTelegram, user_id: int, chat_id: int, message_id: int) -> dict:
    """A user presses 修改 on a card; returns the bot's prompt for the new text."""
    mark = fake.mark()
    await click(fake, user_id, chat_id, message_id, "修改")
    return await fake.wait_for("sendMessage", lambda p: "修改后" in p["text"], after=mark)


def test_start_greets_by_role_and_sets_the_command_menu(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, _, _):
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
        async with running_bot(base, knowledge, db) as (fake, services, _):
            await send(fake, STAFF, STAFF, "/customer C001")
            mark = fake.mark()
            card = await send(fake, STAFF, STAFF, "满多少包邮呀")
            # "typing…" went out before the card
            action = fake.calls_to("sendChatAction", after=mark)
            assert action and action[0].params["action"] == "typing"
            assert action[0].at <= fake.calls_to("sendMessage", after=mark)[0].at
            assert "满多少包邮呀" in card["text"] and "C001" in card["text"]
            buttons = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
            assert {"发送 ✅", "修改 ✏️", "拒绝 ❌"} <= set(buttons)
            # answered: 转人工 is offered; handed off: the closest entries are (the gate decides which)
            assert "转人工 🙋" in buttons or any(b.startswith("📌") and "包邮" in b for b in buttons)
            message_id = card_id(fake, STAFF, "满多少包邮呀")

            mark = fake.mark()
            answer = await click(fake, STAFF, STAFF, message_id, "发送")
            assert "已通过" in answer["text"]
            edited = await fake.wait_for("editMessageText", after=mark)
            assert edited["message_id"] == message_id
            assert "已通过" in edited["text"] and "<pre>" in edited["text"]
            assert "reply_markup" not in edited  # decided: no more buttons
        with Session(services.engine) as session:
            draft = session.exec(select(Draft)).one()
            assert draft.status == "approved" and f"tg {STAFF}" in draft.decided_by
            assert html.escape(draft.text) in edited["text"]  # the approved text, ready to copy
            assert draft.decided_at is not None and draft.decided_at >= draft.created_at
        assert all(fake.answered.values())

    run(scenario())


def test_edit_flow_takes_the_next_message_and_offers_an_faq_candidate(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            await send(fake, STAFF, STAFF, "/customer C002")
            await send(fake, STAFF, STAFF, "几天能发货")
            message_id = card_id(fake, STAFF, "几天能发货")
            mark = fake.mark()
            await click(fake, STAFF, STAFF, message_id, "修改")
            prompt = await fake.wait_for("sendMessage", after=mark)
            assert "修改后的回复" in prompt["text"] and prompt["reply_markup"]["force_reply"] is True

            mark = fake.mark()
            new_text = "亲，付款后两天内发货，<周末>也发 & 包顺丰"
            await fake.user_sends(fake.user(STAFF), STAFF, new_text)
            edited = await fake.wait_for("editMessageText", after=mark)
            assert edited["message_id"] == message_id and "已修改" in edited["text"]
            assert "&lt;周末&gt;也发 &amp; 包顺丰" in edited["text"]  # escaped, and Telegram parsed it
            done = await fake.wait_for("sendMessage", lambda p: "FAQ 候选" in p["text"], after=mark)
            assert "FAQ 候选" in done["text"]
            assert not fake.calls_to("sendChatAction", after=mark)  # the edit was not drafted as a question

            # the maintainer accepts it into the knowledge folder, which is synced
            mark = fake.mark()
            await send(fake, MAINTAINER, MAINTAINER, "/candidates")
            candidate = await fake.wait_for("sendMessage", lambda p: "候选 #" in p["text"], after=mark)
            cmessage = card_id(fake, MAINTAINER, "候选 #")
            assert "几天能发货" in candidate["text"]
            mark = fake.mark()
            await click(fake, MAINTAINER, MAINTAINER, cmessage, "采纳")
            report = await fake.wait_for("sendMessage", lambda p: "已同步" in p["text"], after=mark, timeout=30)
            assert "新增 1" in report["text"]
        with Session(services.engine) as session:
            draft = session.exec(select(Draft)).one()
            assert draft.status == "edited" and draft.edited_text == new_text
            assert session.exec(select(FaqCandidate)).one().status == "accepted"
            assert session.get(StaffState, STAFF).editing_draft_id is None
        written = (base.knowledge_dir / "店员补充.csv").read_text(encoding="utf-8")
        assert "几天能发货" in written and "包顺丰" in written
        # leave the shared knowledge folder as the other tests expect it
        (base.knowledge_dir / "店员补充.csv").unlink()
        assert len(knowledge.sync().removed) == 1

    run(scenario())


def test_a_stranger_is_refused_once_and_gets_no_draft(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, app):
            reply = await send(fake, STRANGER, STRANGER, "包邮吗")
            assert "只对店里的同事开放" in reply["text"]
            mark = fake.mark()
            await fake.user_sends(fake.user(STRANGER), STRANGER, "/start")
            await fake.user_sends(fake.user(STRANGER), STRANGER, "能开发票吗")
            await idle(app, fake)
            assert not fake.calls_to("sendMessage", after=mark)
            assert not [c for c in fake.calls_to("sendChatAction", after=mark) if c.params["chat_id"] == STRANGER]

            # in a staff group anyone can press a button: a stranger's press changes nothing
            await send(fake, STAFF, GROUP, "@fake_bot 龙井怎么泡")
            message_id = card_id(fake, GROUP, "龙井怎么泡")
            # staff talking among themselves in the group are not customers
            mark = fake.mark()
            await fake.user_sends(fake.user(STAFF), GROUP, "大家中午吃什么")
            await fake.user_sends(fake.user(MAINTAINER), GROUP, "我也不知道")
            await idle(app, fake)
            assert not [c for c in fake.calls[mark:] if c.params.get("chat_id") == GROUP]
            mark = fake.mark()
            answer = await click(fake, STRANGER, GROUP, message_id, "发送")
            assert answer["show_alert"] is True and "没有权限" in answer["text"]
            # a maintainer has a role, but not this one
            answer = await click(fake, MAINTAINER, GROUP, message_id, "发送")
            assert answer["show_alert"] is True and "不能" in answer["text"]
            assert not fake.calls_to("editMessageText", after=mark)
        with Session(services.engine) as session:
            drafts = session.exec(select(Draft)).all()
            assert len(drafts) == 1 and drafts[0].status == "pending"

    run(scenario())


def test_a_429_is_retried_and_the_card_still_arrives(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, _, _):
            fake.fail_next("sendMessage", 429, retry_after=1)
            mark = fake.mark()
            await fake.user_sends(fake.user(STAFF), STAFF, "茶叶能放多久")
            await fake.wait_for("sendMessage", after=mark)  # refused with 429 …
            first = next(n for n in range(mark, len(fake.calls)) if fake.calls[n].method == "sendMessage")
            card = await fake.wait_for("sendMessage", after=first + 1, timeout=15)  # … and sent again
            tries = fake.calls_to("sendMessage", after=mark)
            assert len(tries) == 2 and tries[1].at - tries[0].at >= 0.9  # waited retry_after
            assert "茶叶能放多久" in card["text"] and "草稿 #1" in card["text"]

    run(scenario())


def test_a_document_is_synced_and_a_bad_one_changes_nothing(shop, tmp_path):
    base, knowledge = shop
    # Its own knowledge folder and index (sharing the module's embedding model), since it changes them.
    own = base.model_copy(update={"data_dir": tmp_path / "data", "knowledge_dir": tmp_path / "knowledge"})
    write_shop(own.knowledge_dir)
    own_kb = KnowledgeBase(own, embedder=knowledge.embedder)
    own_kb.sync()

    async def scenario() -> None:
        async with running_bot(own, own_kb, tmp_path / "bot.db") as (fake, _, _):
            good = "问题,答案\n可以寄到香港吗？,可以寄到香港，运费 30 元，5 个工作日左右送达。\n"
            mark = fake.mark()
            await fake.user_sends_document(fake.user(MAINTAINER), MAINTAINER, "港澳.csv", good.encode())
            reply = await fake.wait_for("sendMessage", after=mark, timeout=30)
            assert "已导入「港澳.csv」" in reply["text"] and "新增 1" in reply["text"], reply["text"]
            assert (own.knowledge_dir / "港澳.csv").read_text(encoding="utf-8") == good

            bad = "题目,回复\n可以寄到台湾吗？,可以\n"  # no question/answer header
            mark = fake.mark()
            await fake.user_sends_document(fake.user(MAINTAINER), MAINTAINER, "台湾.csv", bad.encode())
            reply = await fake.wait_for("sendMessage", after=mark, timeout=30)
            assert "没有导入" in reply["text"] and "台湾.csv" in reply["text"]
            assert not (own.knowledge_dir / "台湾.csv").exists()

            reply = await send(fake, MAINTAINER, MAINTAINER, "/kb")
            assert "7 条" in reply["text"] and "3 个文件" in reply["text"] and "尚未同步" not in reply["text"]
            (own.knowledge_dir / "港澳.csv").unlink()  # a maintainer removed it by hand
            mark = fake.mark()
            await fake.user_sends(fake.user(ADMIN), ADMIN, "/reindex")
            reply = await fake.wait_for("sendMessage", after=mark, timeout=30)
            assert "删除 1" in reply["text"] and "未变 6" in reply["text"]

            mark = fake.mark()  # staff may not change the knowledge
            await fake.user_sends_document(fake.user(STAFF), STAFF, "x.csv", good.encode())
            reply = await fake.wait_for("sendMessage", after=mark)
            assert "不能" in reply["text"] and not (own.knowledge_dir / "x.csv").exists()
        assert own_kb.entry_count() == 6

    run(scenario())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_webhook_mode_accepts_only_updates_with_the_secret(world):
    base, knowledge, db = world
    secret = "s3cret_for_tests"

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            settings = bot_settings(base, fake, db, telegram_webhook_secret=SecretStr(secret))
            services = make_services(settings, knowledge)
            app = build_application(services, trust_env=False)
            port = _free_port()
            await app.initialize()
            await app.start()
            await app.updater.start_webhook(
                listen="127.0.0.1", port=port, url_path="tg", secret_token=secret,
                webhook_url=f"http://127.0.0.1:{port}/tg",
            )
            try:
                assert fake.webhook["secret_token"] == secret
                update = fake.message_update(fake.user(STAFF), STAFF, "/start")
                assert await fake.deliver(update, secret=None) == 403
                assert await fake.deliver(update, secret="wrong") == 403
                await asyncio.sleep(0.2)
                assert not fake.calls_to("sendMessage")
                mark = fake.mark()
                assert await fake.deliver(update, secret=secret) == 200
                reply = await fake.wait_for("sendMessage", after=mark)
                assert "客服" in reply["text"]
            finally:
                await app.updater.stop()
                await app.stop()
                await app.shutdown()

    run(scenario())


def test_a_restart_keeps_pending_drafts_customers_and_edits(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            settings = bot_settings(base, fake, db)
            async with polling(make_services(settings, knowledge), fake):
                await send(fake, STAFF, STAFF, "/customer C003")
                await send(fake, STAFF, STAFF, "能开发票吗")
                first = card_id(fake, STAFF, "能开发票吗")
                await send(fake, ADMIN, ADMIN, "可以退货吗")
                second = card_id(fake, ADMIN, "可以退货吗")
                await click(fake, ADMIN, ADMIN, second, "修改")
            # a new process: new services, new application, same database
            services = make_services(settings, knowledge)
            async with polling(services, fake):
                mark = fake.mark()
                await click(fake, STAFF, STAFF, first, "发送")
                edited = await fake.wait_for("editMessageText", after=mark)
                assert edited["message_id"] == first and "已通过" in edited["text"] and "C003" in edited["text"]
                mark = fake.mark()
                await fake.user_sends(fake.user(ADMIN), ADMIN, "亲，签收七天内未拆封可以退。")
                edited = await fake.wait_for("editMessageText", after=mark)
                assert edited["message_id"] == second and "已修改" in edited["text"]
                card = await send(fake, STAFF, STAFF, "龙井怎么泡")  # still serving C003
                assert "C003" in card["text"]
            with Session(services.engine) as session:
                statuses = sorted(d.status for d in session.exec(select(Draft)).all())
                assert statuses == ["approved", "edited", "pending"]

    run(scenario())


def test_a_handed_off_question_offers_entries_and_records_the_choice(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            card = await send(fake, STAFF, STAFF, "发货用的什么快递呀")
            message_id = card_id(fake, STAFF, "发货用的什么快递呀")
            buttons = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
            if "转人工 🙋" in buttons:  # answered: staff hand it off themselves
                await click(fake, STAFF, STAFF, message_id, "转人工")
                card = await fake.wait_for("editMessageText")
                buttons = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
            assert "人工" in card["text"] and "转人工 🙋" not in buttons
            assert any(b.startswith("📌") and "多久发货" in b for b in buttons), buttons
            mark = fake.mark()
            await click(fake, STAFF, STAFF, message_id, "多久发货")
            edited = await fake.wait_for("editMessageText", after=mark)
            assert "48 小时" in edited["text"] and "人工选定条目" in edited["text"]
            reply = await send(fake, ADMIN, ADMIN, "/stats")
            assert "回复草稿 1 条" in reply["text"] and "已审核 1 条" in reply["text"]
        with Session(services.engine) as session:
            draft = session.exec(select(Draft)).one()
            assert draft.status == "edited" and "48 小时" in draft.edited_text
            card = session.exec(select(StaffCard)).one()
            assert card.chosen_entry_id == draft.cited_entry_ids[0]
            # the customer's words became a learned phrasing of that entry (the gate's learning)
            learned = session.exec(select(LearnedPhrasing)).one()
            assert (learned.text, learned.entry_id) == ("发货用的什么快递呀", card.chosen_entry_id)
            assert f"tg {STAFF}" in learned.decided_by

    run(scenario())


def test_handing_off_an_answered_card_records_who_pressed_it_and_when(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            card = await send(fake, STAFF, STAFF, "满多少包邮呀")
            buttons = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
            assert "转人工 🙋" in buttons, buttons  # the FAQ answers it: staff hand it off themselves
            mark = fake.mark()
            await click(fake, STAFF, STAFF, card_id(fake, STAFF, "满多少包邮呀"), "转人工")
            await fake.wait_for("editMessageText", after=mark)
            reply = await send(fake, ADMIN, ADMIN, "/stats")
            assert "转人工 1 条" in reply["text"], reply["text"]
        with Session(services.engine) as session:
            card = session.exec(select(StaffCard)).one()
            draft = session.get(Draft, card.draft_id)
            assert card.escalated and f"tg {STAFF}" in card.escalated_by
            assert card.escalated_at is not None and card.escalated_at >= draft.created_at

    run(scenario())


def test_check_reports_findings_and_the_token_never_reaches_the_logs(world, caplog):
    base, knowledge, db = world
    caplog.set_level(logging.DEBUG)
    httpx_level = logging.getLogger("httpx").level
    logging.getLogger("httpx").setLevel(logging.DEBUG)

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, _, _):
            reply = await send(fake, STAFF, STAFF, "/check 全网最低价！国家级顶级好茶<限时>")
            assert "过度营销" in reply["text"] and "合规改写" in reply["text"]
            assert "&lt;" in reply["text"]  # the customer-visible < was escaped (the fake parses the HTML)
            # a failing call is logged by the error handler, and the user is told
            fake.fail_next("sendMessage", 403)
            told = await send(fake, STAFF, STAFF, "/help", containing="出错")
            assert "稍后再试" in told["text"]

    try:
        run(scenario())
    finally:
        # Put back what it was: a later test of the CLI's logging reads httpx's INFO lines.
        logging.getLogger("httpx").setLevel(httpx_level)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "getUpdates" in logged or "sendMessage" in logged  # the requests were logged …
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged  # … without the token


def test_push_drafts_checked_cards_that_can_be_regenerated_softened_and_approved(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            services.push_writer = PushWriter(services.settings, engine=services.engine, knowledge=knowledge)
            mark = fake.mark()
            await fake.user_sends(fake.user(STAFF), STAFF,
                                  "/push weibo post 明前龙井到货，全网最低价！3月20日前下单满200减20")
            card = await fake.wait_for("sendMessage", lambda p: "推送草稿 #" in p["text"], after=mark, timeout=30)
            assert "合规检查：✅ 通过" in card["text"] and "全网最低价" in card["text"]  # what was dropped, and why
            assert "满200减20" in card["text"].split("</pre>")[0]
            message_id = card_id(fake, STAFF, "推送草稿 #")
            first = card["text"]

            mark = fake.mark()
            await click(fake, STAFF, STAFF, message_id, "换一版")
            again = await fake.wait_for("editMessageText", after=mark, timeout=30)
            assert again["text"] != first and "推送草稿 #" in again["text"]
            mark = fake.mark()
            await click(fake, STAFF, STAFF, message_id, "更克制")
            softer = await fake.wait_for("editMessageText", after=mark, timeout=30)
            assert "推送草稿 #" in softer["text"]
            mark = fake.mark()
            await click(fake, ADMIN, STAFF, message_id, "通过")
            done = await fake.wait_for("editMessageText", after=mark)
            assert "已通过" in done["text"] and "reply_markup" not in done

            reply = await send(fake, MAINTAINER, MAINTAINER, "/push wechat moments 新品上架")
            assert "不能使用" in reply["text"]
            reply = await send(fake, STAFF, STAFF, "/push wechat")
            assert "用法" in reply["text"]
        with Session(services.engine) as session:
            pushes = session.exec(select(Draft).where(Draft.kind == "push")).all()
            assert sorted(d.status for d in pushes) == ["approved", "rejected", "rejected"]

    run(scenario())


def test_dianxiaoer_run_starts_the_bot_when_a_token_is_set(shop, tmp_path):
    """The real command in its own process: sync, then long polling; Ctrl-C stops it cleanly."""
    import os
    import shutil
    import signal
    import subprocess
    import sys

    base, _ = shop
    shutil.copytree(base.knowledge_dir, tmp_path / "knowledge")
    shutil.copytree(base.data_dir, tmp_path / "data")

    async def scenario() -> tuple[int, str]:
        async with FakeTelegram() as fake:
            env = {k: v for k, v in os.environ.items() if not k.startswith("DIANXIAOER_")}
            env.update({
                "DIANXIAOER_DATA_DIR": str(tmp_path / "data"),
                "DIANXIAOER_KNOWLEDGE_DIR": str(tmp_path / "knowledge"),
                "DIANXIAOER_TELEGRAM_TOKEN": TOKEN,
                "DIANXIAOER_TELEGRAM_BASE_URL": fake.base_url,
                "DIANXIAOER_TELEGRAM_BASE_FILE_URL": fake.base_file_url,
                "DIANXIAOER_TELEGRAM_STAFF": str(STAFF),
                "NO_PROXY": "127.0.0.1,localhost",
            })
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "-v", "run", cwd=tmp_path, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            try:
                await fake.wait_for("getUpdates", timeout=120)
                reply = await send(fake, STAFF, STAFF, "/start")
                assert "客服" in reply["text"]
            finally:
                await fake.release_long_polls()
                process.send_signal(signal.SIGINT)
                out, err = await asyncio.wait_for(process.communicate(), 60)
            return process.returncode, (out + err).decode()

    code, output = asyncio.run(scenario())
    assert code == 0, output
    assert "已同步" in output and "长轮询" in output
    assert "getUpdates" in output  # -v logs the requests …
    assert TOKEN.split(":")[1] not in output  # … without the token


def test_webhook_mode_needs_a_secret():
    from click.testing import CliRunner

    from bot.cli import cli

    env = {"DIANXIAOER_TELEGRAM_TOKEN": TOKEN}
    result = CliRunner().invoke(cli, ["telegram", "--webhook-url", "https://shop.example/tg"], env=env)
    assert result.exit_code == 1 and "DIANXIAOER_TELEGRAM_WEBHOOK_SECRET" in result.output
    result = CliRunner().invoke(cli, ["telegram", "--webhook-url", "https://shop.example/tg"],
                                env={**env, "DIANXIAOER_TELEGRAM_WEBHOOK_SECRET": "has spaces"})
    assert result.exit_code == 1 and "A-Z a-z 0-9" in result.output
    result = CliRunner().invoke(cli, ["telegram"], env={})
    assert result.exit_code == 1 and "DIANXIAOER_TELEGRAM_TOKEN" in result.output


def test_two_presses_at_once_decide_once_and_gaps_lists_what_was_handed_off(world):
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            # in a forum topic of the staff group: the card and the typing go to that topic
            mark = fake.mark()
            await fake.user_sends(fake.user(STAFF), GROUP, "@fake_bot 你们周末发货吗", thread_id=77)
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            assert card["message_thread_id"] == 77
            assert fake.calls_to("sendChatAction", after=mark)[0].params["message_thread_id"] == 77
            message_id = card_id(fake, GROUP, "你们周末发货吗")
            mark = fake.mark()
            # both presses reach the bot before either is handled
            first = fake.click_update(fake.user(STAFF, "小王"), GROUP, message_id, "发送")
            second = fake.click_update(fake.user(ADMIN, "老板"), GROUP, message_id, "拒绝")
            await fake.queue(first)
            await fake.queue(second)
            for update in (first, second):
                query_id = update["callback_query"]["id"]
                await fake.wait_for("answerCallbackQuery", lambda p, q=query_id: p["callback_query_id"] == q,
                                    after=mark)
            answers = [c.params.get("text", "") for c in fake.calls_to("answerCallbackQuery", after=mark)]
            assert any("已通过" in a for a in answers) and any("已由 小王" in a for a in answers)
            # an old card's button, pressed again later, changes nothing either
            await fake.queue(fake.press_update(fake.user(ADMIN), GROUP, message_id, "no:1"))
            await fake.wait_for("answerCallbackQuery", lambda p: "已由" in p.get("text", ""), after=mark)

            await send(fake, STAFF, STAFF, "有没有实体店可以自提")
            handed_off = card_id(fake, STAFF, "有没有实体店可以自提")
            if "转人工" in str(fake.messages[(STAFF, handed_off)]["reply_markup"]):
                await click(fake, STAFF, STAFF, handed_off, "转人工")
            reply = await send(fake, MAINTAINER, MAINTAINER, "/gaps")
            assert "未解答" in reply["text"] and "有没有实体店可以自提" in reply["text"]
        with Session(services.engine) as session:
            assert session.get(Draft, 1).status == "approved"

    run(scenario())


def test_typing_shows_only_when_drafting_takes_noticeable_time(world, monkeypatch):
    base, knowledge, db = world
    monkeypatch.setattr("bot.telegram.common.TYPING_AFTER_SECONDS", 0.4)

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            await send(fake, STAFF, STAFF, "/customer C001")
            mark = fake.mark()
            await send(fake, STAFF, STAFF, "满多少包邮呀")
            assert not fake.calls_to("sendChatAction", after=mark)  # a card in milliseconds
            fast_ask = services.assistant.ask

            def slow_ask(*args, **kwargs):
                import time

                time.sleep(1.0)  # an LLM drafting, say
                return fast_ask(*args, **kwargs)

            monkeypatch.setattr(services.assistant, "ask", slow_ask)
            mark = fake.mark()
            await send(fake, STAFF, STAFF, "能开发票吗")
            action = fake.calls_to("sendChatAction", after=mark)
            assert action and action[0].params["action"] == "typing"
            assert action[0].at <= fake.calls_to("sendMessage", after=mark)[0].at

    asyncio.run(scenario())
