"""Gaps a support agent met in a scripted day with the bot (through the fake Bot API): a photo
with words is drafted from its words, and a reply to a card is that card's customer's follow-up
even after staff moved on to another customer."""

from __future__ import annotations

import time

from sqlmodel import Session, select

from bot.memory.models import Customer, Draft
from tests.test_telegram import STAFF, card_id, click, run, running_bot, send
from tests.test_telegram import shop  # noqa: F401  (the module's indexed shop)

PHOTO = [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 90}]


def test_a_photo_with_a_caption_is_drafted_from_its_words(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, _, _):
            mark = fake.mark()
            origin = fake.origin_hidden_user("王芳", int(time.time()) - 120)
            await fake.queue(fake.make_update(message=fake._user_message(
                fake.user(STAFF), STAFF, photo=PHOTO, caption="这个能退货吗", forward_origin=origin)))
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            assert "客户说：</b>这个能退货吗" in card["text"] and "转发自 王芳" in card["text"]
            note = await fake.wait_for("sendMessage", lambda p: "图片本身" in p["text"], after=mark)
            assert note["chat_id"] == STAFF
            # a photo without words is still answered with what the bot can read
            mark = fake.mark()
            await fake.queue(fake.make_update(message=fake._user_message(fake.user(STAFF), STAFF, photo=PHOTO)))
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == STAFF, after=mark)
            assert "只能读文字" in reply["text"]

    run(scenario())


def test_a_reply_to_a_card_is_that_customers_follow_up(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, _):
            await send(fake, STAFF, STAFF, "/customer C001 weibo")
            await send(fake, STAFF, STAFF, "包邮吗")
            first = card_id(fake, STAFF, "包邮吗")
            await send(fake, STAFF, STAFF, "/customer C002")
            mark = fake.mark()
            await fake.user_replies(fake.user(STAFF), STAFF, "那多久发货？", first)
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #2" in p["text"], after=mark)
            assert "C001" in card["text"] and "微博" in card["text"]
            card = await send(fake, STAFF, STAFF, "可以退货吗")  # a new message: the current customer
            assert "C002" in card["text"]
        with Session(services.engine) as session:
            refs = {c.id: c.ref for c in session.exec(select(Customer))}
            assert [refs[d.customer_id] for d in session.exec(select(Draft).order_by(Draft.id))] == [
                "C001", "C001", "C002"]

    run(scenario())


def test_what_the_bot_tells_staff_names_no_command_line_flag(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, _, _):
            card = await send(fake, STAFF, STAFF, "亲 满多少包邮？还有多久能发货")
            assert "多久发货" in card["text"] and "包邮吗" in card["text"]  # two entries cited
            answer = await click(fake, STAFF, STAFF, card_id(fake, STAFF, "满多少包邮"), "发送")
            assert "已通过" in answer["text"] and "未学习" in answer["text"]
            assert "--" not in answer["text"], answer["text"]
            help_text = (await send(fake, STAFF, STAFF, "/help"))["text"]
            assert "转发" in help_text and "编辑" in help_text

    run(scenario())


def test_in_a_group_a_mention_in_reply_to_a_photo_drafts_its_caption(shop, tmp_path):  # noqa: F811
    # A customer's screenshot with words, forwarded into the staff group: "@bot" in reply to it
    # asks for a draft of its words, as a photo sent to the bot in private is drafted.
    from tests.test_telegram import ADMIN, GROUP

    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, _, _):
            origin = fake.origin_hidden_user("王芳", int(time.time()) - 120)
            photo = await fake.queue(fake.make_update(message=fake._user_message(
                fake.user(STAFF), GROUP, photo=PHOTO, caption="这个能退货吗", forward_origin=origin)))
            mark = fake.mark()
            await fake.user_replies(fake.user(ADMIN), GROUP, "@fake_bot", photo["message"]["message_id"])
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            assert "客户说：</b>这个能退货吗" in card["text"] and "转发自 王芳" in card["text"]

    run(scenario())
