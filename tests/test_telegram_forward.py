"""Forwarded customer messages end to end: the wait runs from the customer's original time (the
forward origin's date), the card names the original sender without any id, and a forward is
always a customer's message (never the new text of a draft, never the bot's own card)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select
from telegram import Message

from bot.memory import crud, staff
from bot.memory.db import init_db, make_engine
from bot.memory.models import Draft, StaffCard
from bot.memory.stats import service_stats
from bot.telegram.serve import forward_origin
from tests.telegram_fake import BOT_USER, FakeTelegram
from tests.test_telegram import ADMIN, GROUP, STAFF, card_id, click, idle, run, running_bot, send, start_edit
from tests.test_telegram import shop, world  # noqa: F401  (the module's indexed shop, the bot's database)

CUSTOMER = {"id": 987654321, "is_bot": False, "first_name": "芳", "last_name": "王", "username": "wangfang_88"}


def test_a_forward_is_timed_from_the_customers_message_and_names_its_sender(world):  # noqa: F811
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            await send(fake, STAFF, STAFF, "/customer C001")
            asked = int(time.time()) - 20 * 60  # the customer wrote 20 minutes ago
            mark = fake.mark()
            await fake.user_forwards(fake.user(STAFF), STAFF, "满多少包邮呀", fake.origin_user(CUSTOMER, asked))
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            assert "转发自 王 芳" in card["text"] or "转发自 芳 王" in card["text"], card["text"]
            assert "客户发来已 20 分" in card["text"] and "已超过 15 分钟的回复标准" in card["text"], card["text"]
            # the customer's Telegram id and username stay out of the card
            assert str(CUSTOMER["id"]) not in card["text"] and "wangfang_88" not in card["text"]

            mark = fake.mark()
            await click(fake, STAFF, STAFF, card_id(fake, STAFF, "满多少包邮呀"), "发送")
            edited = await fake.wait_for("editMessageText", after=mark)
            assert "问题后 20 分" in edited["text"], edited["text"]
            stats = await send(fake, ADMIN, ADMIN, "/stats")
            assert "中位数 20 分" in stats["text"] and "15 分钟内 0%" in stats["text"], stats["text"]
        with Session(services.engine) as session:
            card_row = session.exec(select(StaffCard)).one()
            draft = session.get(Draft, card_row.draft_id)
            assert card_row.asked_at == datetime.fromtimestamp(asked, UTC)
            assert card_row.origin_name in ("王 芳", "芳 王") and card_row.customer_ref == "C001"
            figures = service_stats(session=session, since=datetime.now(UTC) - timedelta(days=1))
            assert figures.median_wait >= timedelta(minutes=20)
            assert figures.median_wait == draft.decided_at - card_row.asked_at

    run(scenario())


def test_a_forward_while_editing_is_a_customers_message_not_the_new_text(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, app):
            await send(fake, STAFF, STAFF, "能开发票吗")
            first = card_id(fake, STAFF, "能开发票吗")
            await start_edit(fake, STAFF, STAFF, first)
            mark = fake.mark()
            await fake.user_forwards(fake.user(STAFF), STAFF, "多久发货？",
                                     fake.origin_hidden_user("李先生", int(time.time()) - 90))
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            assert "多久发货" in card["text"] and "转发自 李先生" in card["text"]
            # the edit is still waiting for the staff member's own words
            await send(fake, STAFF, STAFF, "可以开电子普通发票，下单备注抬头税号。", containing="FAQ 候选")

            # the bot's own card forwarded back to it is not a customer's message
            mark = fake.mark()
            bot_card = fake.messages[(STAFF, first)]
            await fake.user_forwards(fake.user(STAFF), STAFF, bot_card["text"],
                                     fake.origin_user(BOT_USER, bot_card["date"]))
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == STAFF, after=mark)
            assert "不是客户的消息" in reply["text"]
            await idle(app, fake)
        with Session(services.engine) as session:
            drafts = {d.id: (d.status, d.edited_text) for d in session.exec(select(Draft))}
            assert drafts == {1: ("edited", "可以开电子普通发票，下单备注抬头税号。"), 2: ("pending", None)}

    run(scenario())


def test_in_a_group_a_mention_in_reply_to_a_forward_drafts_it(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, app):
            # a colleague forwards the customer's message into the group: chatter for the bot
            asked = int(time.time()) - 5 * 60
            mark = fake.mark()
            forwarded = await fake.user_forwards(fake.user(STAFF), GROUP, "可以退货吗",
                                                 fake.origin_channel("茶铺客服频道", asked, signature="小李"))
            await idle(app, fake)
            assert not [c for c in fake.calls[mark:] if c.params.get("chat_id") == GROUP]
            # "@bot" in reply to it asks for a draft of it
            mark = fake.mark()
            await fake.user_replies(fake.user(ADMIN), GROUP, "@fake_bot", forwarded["message"]["message_id"])
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            assert "客户说：</b>可以退货吗" in card["text"] and "转发自 小李" in card["text"]
            assert "客户发来已 5 分" in card["text"] and "回复标准" not in card["text"]
            assert card["reply_parameters"]["message_id"] == forwarded["message"]["message_id"]
        with Session(services.engine) as session:
            card_row = session.exec(select(StaffCard)).one()
            assert card_row.source_message_id == forwarded["message"]["message_id"]
            assert card_row.asked_at == datetime.fromtimestamp(asked, UTC)

    run(scenario())


def _message(origin: dict, *, date: int = 1_800_000_000) -> Message:
    return Message.de_json({"message_id": 1, "date": date, "chat": {"id": 1, "type": "private"},
                            "text": "包邮吗", "forward_origin": origin}, None)


def test_every_kind_of_forward_origin_gives_a_name_and_never_an_id():
    now = 1_800_000_000
    user = {"id": 555, "is_bot": False, "first_name": "Fang", "last_name": "Wang", "username": "fw"}
    cases = [
        (FakeTelegram.origin_user(user, now - 60), "Fang Wang"),
        (FakeTelegram.origin_hidden_user("王芳", now - 60), "王芳"),
        (FakeTelegram.origin_chat("茶友群", now - 60), "茶友群"),
        (FakeTelegram.origin_channel("店铺频道", now - 60), "店铺频道"),
        (FakeTelegram.origin_channel("店铺频道", now - 60, signature="小李"), "小李"),
    ]
    for origin, name in cases:
        assert forward_origin(_message(origin, date=now)) == (name, datetime.fromtimestamp(now - 60, UTC))
    # a sender clock ahead of ours never makes the question later than its forward
    assert forward_origin(_message(FakeTelegram.origin_hidden_user("王芳", now + 600), date=now))[1] == \
        datetime.fromtimestamp(now, UTC)
    assert forward_origin(_message(FakeTelegram.origin_hidden_user("  ", now), date=now))[0] is None


def test_stats_wait_from_the_cards_question_time_and_leave_superseded_drafts_out(tmp_path):
    from bot.config import Settings

    engine = make_engine(Settings(data_dir=tmp_path, _env_file=None))
    init_db(engine)
    start = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    with Session(engine) as session:
        forwarded = crud.create_draft(session=session, kind="reply", text="满 99 包邮")
        forwarded.created_at = start
        staff.record_card(session=session, draft_id=forwarded.id, chat_id=1, message_id=2, question="包邮吗",
                          customer_ref=None, asked_at=start - timedelta(minutes=30))
        pasted = crud.create_draft(session=session, kind="reply", text="48 小时发货")
        pasted.created_at = start
        typo = crud.create_draft(session=session, kind="reply", text="?")
        typo.created_at = start
        session.commit()
        staff.supersede(session=session, draft_id=typo.id)
        crud.decide_draft(session=session, draft_id=forwarded.id, status="approved", by="a",
                          now=start + timedelta(minutes=1))
        crud.decide_draft(session=session, draft_id=pasted.id, status="approved", by="a",
                          now=start + timedelta(minutes=1))
        session.commit()
        figures = service_stats(session=session, since=start - timedelta(days=1))
    assert (figures.drafts, figures.decided) == (2, 2)  # the superseded draft is no question of its own
    # waits 31 min (from the forward's original time) and 1 min (from the draft)
    assert (figures.median_wait, figures.p90_wait) == (timedelta(minutes=16), timedelta(minutes=28))
    assert figures.within_standard == 1
