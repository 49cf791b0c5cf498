"""Edited messages end to end: staff correcting the customer's message they pasted re-drafts its
card (the old pending draft superseded, the question's time kept, the customer it was for kept); a
decided draft is not reopened and staff are told; in a group edits of messages that have a card
count and chatter is ignored; edited commands are not run again. And the stranger refusal
survives a restart."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from bot.memory.models import Draft, FaqCandidate, Message, RefusedUser, StaffCard, StaffState, UnansweredQuestion
from bot.telegram.general import REFUSAL_INTERVAL
from tests.telegram_fake import FakeTelegram
from tests.test_telegram import (ADMIN, GROUP, MAINTAINER, STAFF, STRANGER, bot_settings, card_id, click, idle,
                                 make_services, polling, run, running_bot, send, start_edit)
from tests.test_telegram import shop, world  # noqa: F401  (the module's indexed shop, the bot's database)


async def sent(fake: FakeTelegram, user_id: int, chat_id: int, text: str) -> tuple[int, dict]:
    """A user writes; returns the id of their message and the bot's first reply."""
    mark = fake.mark()
    update = await fake.user_sends(fake.user(user_id), chat_id, text)
    reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == chat_id, after=mark)
    return update["message"]["message_id"], reply


def test_an_edited_customer_message_supersedes_its_pending_card(world):  # noqa: F811
    base, knowledge, db = world

    async def scenario() -> None:
        async with running_bot(base, knowledge, db) as (fake, services, _):
            await send(fake, STAFF, STAFF, "/customer C001")
            source, _ = await sent(fake, STAFF, STAFF, "咖啡豆有货吗")  # the typo: 可以退货吗
            old_card = card_id(fake, STAFF, "咖啡豆有货吗")
            await send(fake, STAFF, STAFF, "/customer C002")  # serving someone else meanwhile

            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), STAFF, source, "可以退货吗")
            new = await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            assert "客户说：</b>可以退货吗" in new["text"] and "C001" in new["text"]  # still C001's message
            assert new["reply_parameters"]["message_id"] == source  # quotes the corrected message
            old = await fake.wait_for("editMessageText", lambda p: p["message_id"] == old_card, after=mark)
            assert "已作废" in old["text"] and "reply_markup" not in old

            # the old card's buttons (e.g. in a stale client) change nothing
            press = fake.press_update(fake.user(STAFF), STAFF, old_card, "ok:1")
            await fake.queue(press)
            answer = await fake.wait_for("answerCallbackQuery",
                                         lambda p: p["callback_query_id"] == press["callback_query"]["id"])
            assert "已作废" in answer["text"]

            # the same edit delivered again (or an edit that changes nothing) makes no new card
            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), STAFF, source, "可以退货吗")
            await send(fake, STAFF, STAFF, "/help")
            assert not [c for c in fake.calls_to("sendMessage", after=mark) if "草稿 #" in c.params["text"]]

            mark = fake.mark()
            await click(fake, STAFF, STAFF, card_id(fake, STAFF, "可以退货吗"), "发送")
            await fake.wait_for("editMessageText", after=mark)
            stats = await send(fake, ADMIN, ADMIN, "/stats")
            assert "回复草稿 1 条" in stats["text"], stats["text"]  # the typo is no question of its own
        with Session(services.engine) as session:
            drafts = {d.id: d for d in session.exec(select(Draft))}
            assert {i: d.status for i, d in drafts.items()} == {1: "superseded", 2: "approved"}
            assert drafts[1].decided_by is None  # superseding is no staff decision
            cards = {c.draft_id: c for c in session.exec(select(StaffCard))}
            assert cards[1].source_message_id == cards[2].source_message_id == source
            assert cards[2].customer_ref == "C001" and cards[2].asked_at == drafts[1].created_at
            # the typo's hand-off left the unanswered list; nothing else is lost
            assert all(q.resolved for q in session.exec(select(UnansweredQuestion)).all()
                       if q.draft_id == 1)
            # memory holds the corrected message and its reply, not the typo: a follow-up reads
            # 可以退货吗 as what came before
            said = [(m.role, m.text) for m in session.exec(
                select(Message).where(Message.conversation_id == drafts[2].conversation_id).order_by(Message.id))]
            assert said == [("customer", "可以退货吗"), ("assistant", drafts[2].text)]

    run(scenario())


def test_a_decided_draft_is_not_reopened_and_staff_are_told(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, app):
            source, _ = await sent(fake, STAFF, STAFF, "满多少包邮呀")
            mark = fake.mark()
            await click(fake, STAFF, STAFF, card_id(fake, STAFF, "满多少包邮呀"), "发送")
            await fake.wait_for("editMessageText", after=mark)
            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), STAFF, source, "满多少包邮呀？偏远地区呢")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == STAFF, after=mark)
            assert "已通过" in reply["text"] and "不会" in reply["text"] and "重新" in reply["text"]
            await idle(app, fake)
            assert not fake.calls_to("editMessageText", after=mark)

            # an edited command is not run again, and the bot says so
            command, _ = await sent(fake, STAFF, STAFF, "/customer C002")
            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), STAFF, command, "/customer C003")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == STAFF, after=mark)
            assert "不会重新执行" in reply["text"]
            # a maintainer is told the same, not refused as if serving customers
            kb, _ = await sent(fake, MAINTAINER, MAINTAINER, "/kb")
            mark = fake.mark()
            await fake.user_edits(fake.user(MAINTAINER), MAINTAINER, kb, "/kb all")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == MAINTAINER, after=mark)
            assert "不会重新执行" in reply["text"]
            # nor is a customer's message that became a command drafted as one
            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), STAFF, source, "/customer C004")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == STAFF, after=mark)
            assert "不会重新执行" in reply["text"]
        with Session(services.engine) as session:
            assert [d.status for d in session.exec(select(Draft))] == ["approved"]
            assert session.get(StaffState, STAFF).customer_ref == "C002"

    run(scenario())


def test_an_edit_in_progress_on_the_old_draft_is_cancelled(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, _):
            source, _ = await sent(fake, STAFF, STAFF, "能开发漂吗")
            await start_edit(fake, STAFF, STAFF, card_id(fake, STAFF, "能开发漂吗"))
            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), STAFF, source, "能开发票吗")
            notice = await fake.wait_for("sendMessage", lambda p: "修改已取消" in p["text"], after=mark)
            assert "#1" in notice["text"] and "#2" in notice["text"]
            # the next message is a customer's again, not the new text of the superseded draft
            card = await send(fake, STAFF, STAFF, "多久发货？", containing="草稿 #3")
            assert "多久发货" in card["text"]
        with Session(services.engine) as session:
            assert {d.id: d.status for d in session.exec(select(Draft))} == {
                1: "superseded", 2: "pending", 3: "pending"}

    run(scenario())


def test_in_a_group_edits_of_messages_with_a_card_redraft_and_chatter_is_ignored(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, app):
            mark = fake.mark()
            update = await fake.user_sends(fake.user(STAFF), GROUP, "@fake_bot 龙井怎么跑")
            await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
            source = update["message"]["message_id"]
            chatter = (await fake.user_sends(fake.user(ADMIN), GROUP, "中午吃啥"))["message"]["message_id"]
            await idle(app, fake)

            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), GROUP, source, "@fake_bot 龙井怎么泡")
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #2" in p["text"], after=mark)
            assert "客户说：</b>龙井怎么泡" in card["text"]  # without the mention
            await fake.wait_for("editMessageText", lambda p: "已作废" in p["text"], after=mark)

            # chatter edited: nothing for the bot
            mark = fake.mark()
            await fake.user_edits(fake.user(ADMIN), GROUP, chatter, "中午吃面")
            await idle(app, fake)
            assert not [c for c in fake.calls[mark:] if c.params.get("chat_id") == GROUP]

            # a colleague's pasted message that another asked the bot about ("@bot" in reply to
            # it) has a card: its author's correction re-drafts it
            pasted = (await fake.user_sends(fake.user(ADMIN), GROUP, "客户问：能开发漂吗"))["message"]["message_id"]
            mark = fake.mark()
            await fake.user_replies(fake.user(STAFF), GROUP, "@fake_bot", pasted)
            await fake.wait_for("sendMessage", lambda p: "草稿 #3" in p["text"], after=mark)
            mark = fake.mark()
            await fake.user_edits(fake.user(ADMIN), GROUP, pasted, "客户问：能开发票吗")
            card = await fake.wait_for("sendMessage", lambda p: "草稿 #4" in p["text"], after=mark)
            assert "客户说：</b>客户问：能开发票吗" in card["text"]
        with Session(services.engine) as session:
            assert {d.id: d.status for d in session.exec(select(Draft))} == {
                1: "superseded", 2: "pending", 3: "superseded", 4: "pending"}

    run(scenario())


def test_a_stranger_is_not_refused_again_after_a_restart(world):  # noqa: F811
    base, knowledge, db = world

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            settings = bot_settings(base, fake, db)
            async with polling(make_services(settings, knowledge), fake):
                reply = await send(fake, STRANGER, STRANGER, "包邮吗")
                assert "只对店里的同事开放" in reply["text"]
            services = make_services(settings, knowledge)  # a new process, same database
            async with polling(services, fake) as app:
                mark = fake.mark()
                update = await fake.user_sends(fake.user(STRANGER), STRANGER, "在吗？")
                await fake.user_edits(fake.user(STRANGER), STRANGER, update["message"]["message_id"], "在吗？？")
                await idle(app, fake)
                assert not fake.calls_to("sendMessage", after=mark)
            with Session(services.engine) as session:
                assert [r.user_id for r in session.exec(select(RefusedUser))] == [STRANGER]
                assert session.exec(select(Draft)).all() == []
                # someone who comes back a month later is reminded rather than ignored
                row = session.get(RefusedUser, STRANGER)
                row.refused_at -= REFUSAL_INTERVAL + timedelta(minutes=1)
                session.add(row)
                session.commit()
            async with polling(make_services(settings, knowledge), fake):
                reply = await send(fake, STRANGER, STRANGER, "在吗")
                assert "只对店里的同事开放" in reply["text"]

    run(scenario())


def test_editing_the_new_text_of_a_draft_corrects_it_and_its_faq_candidate(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, _):
            await send(fake, STAFF, STAFF, "能开发票吗")
            card = card_id(fake, STAFF, "能开发票吗")
            await start_edit(fake, STAFF, STAFF, card)
            rewrite, _ = await sent(fake, STAFF, STAFF, "可以开电子发漂，备注抬头和税号。")
            mark = fake.mark()
            await fake.user_edits(fake.user(STAFF), STAFF, rewrite, "可以开电子发票，备注抬头和税号。")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == STAFF, after=mark)
            assert "已更正草稿 #1" in reply["text"]
            shown = await fake.wait_for("editMessageText", lambda p: p["message_id"] == card, after=mark)
            assert "可以开电子发票，备注抬头和税号。" in shown["text"] and "发漂" not in shown["text"]
        with Session(services.engine) as session:
            draft = session.get(Draft, 1)
            assert (draft.status, draft.edited_text) == ("edited", "可以开电子发票，备注抬头和税号。")
            assert f"tg {STAFF}" in draft.decided_by
            [candidate] = session.exec(select(FaqCandidate)).all()
            assert candidate.answer == "可以开电子发票，备注抬头和税号。"
            assert len(session.exec(select(Draft)).all()) == 1  # no new draft for the staff's own words

    run(scenario())


def test_a_database_that_cannot_remember_refusals_still_refuses_once_per_process(shop, tmp_path):  # noqa: F811
    from sqlalchemy import text

    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, app):
            with services.engine.begin() as connection:
                connection.execute(text("DROP TABLE refuseduser"))
            reply = await send(fake, STRANGER, STRANGER, "包邮吗")
            assert "只对店里的同事开放" in reply["text"]
            mark = fake.mark()
            await fake.user_sends(fake.user(STRANGER), STRANGER, "在吗")
            await idle(app, fake)
            assert not fake.calls_to("sendMessage", after=mark)

    run(scenario())
