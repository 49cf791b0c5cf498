"""The staff group chat end to end: what the bot takes as a draft's new text there."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.memory.models import Draft, FaqCandidate
from tests.telegram_fake import FakeTelegram
from tests.test_telegram import GROUP, STAFF, bot_settings, card_id, click, idle, make_services, polling, run
from tests.test_telegram import shop  # noqa: F401  (the module's indexed shop)


def test_a_group_edit_takes_the_reply_to_the_prompt_not_chatter_nor_the_mention(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            services = make_services(bot_settings(base, fake, tmp_path / "bot.db"), knowledge)
            async with polling(services, fake) as app:
                for question in ("@fake_bot 可以开发票吗", "@fake_bot 龙井怎么泡"):
                    mark = fake.mark()
                    await fake.user_sends(fake.user(STAFF), GROUP, question)
                    await fake.wait_for("sendMessage", lambda p: "草稿 #" in p["text"], after=mark)
                invoice, tea = card_id(fake, GROUP, "可以开发票吗"), card_id(fake, GROUP, "龙井怎么泡")

                # 1. addressed with an @mention: the mention is not part of the reply
                mark = fake.mark()
                await click(fake, STAFF, GROUP, invoice, "修改")
                await fake.wait_for("sendMessage", lambda p: "修改后" in p["text"], after=mark)
                mark = fake.mark()
                await fake.user_sends(fake.user(STAFF), GROUP, "@fake_bot 可以开电子发票，备注抬头和税号就行")
                await fake.wait_for("sendMessage", lambda p: "FAQ 候选" in p["text"], after=mark)

                # 2. the force-reply to the prompt; chatter to colleagues before it is not the new text
                mark = fake.mark()
                await click(fake, STAFF, GROUP, tea, "修改")
                prompt = await fake.wait_for("sendMessage", lambda p: "修改后" in p["text"], after=mark)
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
