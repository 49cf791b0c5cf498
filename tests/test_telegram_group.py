"""The staff group chat end to end: what the bot takes as meant for it there (a draft's new text, a
knowledge file) and what it leaves to the colleagues."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.knowledge.base import KnowledgeBase
from bot.memory.models import Draft, FaqCandidate
from tests.test_telegram import (GROUP, MAINTAINER, STAFF, STRANGER, card_id, idle, run, running_bot, send,
                                 start_edit, write_shop)
from tests.test_telegram import shop  # noqa: F401  (the module's indexed shop)


def test_a_group_edit_takes_the_reply_to_the_prompt_not_chatter_nor_the_mention(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, app):
            for question in ("@fake_bot 可以开发票吗", "@fake_bot 龙井怎么泡"):
                await send(fake, STAFF, GROUP, question, containing="草稿 #")
            invoice, tea = card_id(fake, GROUP, "可以开发票吗"), card_id(fake, GROUP, "龙井怎么泡")

            # 1. addressed with an @mention: the mention is not part of the reply
            await start_edit(fake, STAFF, GROUP, invoice)
            await send(fake, STAFF, GROUP, "@fake_bot 可以开电子发票，备注抬头和税号就行", containing="FAQ 候选")

            # 2. the force-reply to the prompt; chatter to colleagues before it is not the new text
            prompt = await start_edit(fake, STAFF, GROUP, tea)
            prompt_message = next(m for (chat, _), m in reversed(fake.messages.items())
                                  if chat == GROUP and m.get("text") == prompt["text"])
            await fake.user_sends(fake.user(STAFF), GROUP, "稍等，我问下老板水温")
            await idle(app, fake)
            mark = fake.mark()
            await fake.queue(fake.make_update(message=fake._user_message(
                fake.user(STAFF), GROUP, text="85 度的水，先温杯再注水", reply_to_message=prompt_message)))
            await fake.wait_for("sendMessage", lambda p: "FAQ 候选" in p["text"], after=mark)
        with Session(services.engine) as session:
            edited = {d.id: d.edited_text for d in session.exec(select(Draft))}
            assert edited == {1: "可以开电子发票，备注抬头和税号就行", 2: "85 度的水，先温杯再注水"}
            answers = sorted(c.answer for c in session.exec(select(FaqCandidate)))
            assert answers == ["85 度的水，先温杯再注水", "可以开电子发票，备注抬头和税号就行"]

    run(scenario())


def test_a_group_takes_a_knowledge_file_only_when_it_is_sent_to_the_bot(shop, tmp_path):  # noqa: F811
    base, knowledge = shop
    own = base.model_copy(update={"data_dir": tmp_path / "data", "knowledge_dir": tmp_path / "knowledge"})
    write_shop(own.knowledge_dir)
    own_kb = KnowledgeBase(own, embedder=knowledge.embedder)
    own_kb.sync()
    good = "问题,答案\n可以寄到香港吗？,可以寄到香港，运费 30 元。\n".encode("gbk")  # saved by Excel on Windows

    async def scenario() -> None:
        async with running_bot(own, own_kb, tmp_path / "bot.db") as (fake, _, app):
            # colleagues share files in the group: no refusal, no import
            mark = fake.mark()
            await fake.user_sends_document(fake.user(STAFF), GROUP, "发票.pdf", b"%PDF-1.4")
            await fake.user_sends_document(fake.user(MAINTAINER), GROUP, "港澳.csv", good)
            await idle(app, fake)
            assert not [c for c in fake.calls[mark:] if c.params.get("chat_id") == GROUP]
            assert not (own.knowledge_dir / "港澳.csv").exists()
            # the same file with the bot @mentioned in its caption is imported
            await fake.user_sends_document(fake.user(MAINTAINER), GROUP, "港澳.csv", good, caption="@fake_bot 新增港澳")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == GROUP, after=mark, timeout=30)
            assert "已导入「港澳.csv」" in reply["text"] and "新增 1" in reply["text"], reply["text"]
        assert own_kb.entry_count() == 7

    run(scenario())


def test_commands_for_another_bot_in_the_group_are_left_alone(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, _, app):
            mark = fake.mark()
            await fake.user_sends(fake.user(STAFF), GROUP, "/orders@shop_erp_bot 今天")  # the shop's ERP bot
            await fake.user_sends(fake.user(STRANGER), GROUP, "/start@shop_erp_bot")  # a guest in the group
            await idle(app, fake)
            assert not [c for c in fake.calls[mark:] if c.params.get("chat_id") == GROUP]
            await fake.user_sends(fake.user(STAFF), GROUP, "/orders@fake_bot")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == GROUP, after=mark)
            assert "没有这个命令" in reply["text"]
            mark = fake.mark()
            await fake.user_sends(fake.user(STRANGER), GROUP, "/start@fake_bot")
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == GROUP, after=mark)
            assert "只对店里的同事开放" in reply["text"]

    run(scenario())
