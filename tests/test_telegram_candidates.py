"""/candidates as a maintainer reads it (the rewritten answer beside the entry it replaces), /gaps
within one message, and what staff are told when they send the bot something it cannot read."""

from __future__ import annotations

from tests.test_telegram import MAINTAINER, STAFF, card_id, run, running_bot, send, start_edit
from tests.test_telegram import shop  # noqa: F401  (the module's indexed shop)


def test_a_candidate_shows_the_cited_entry_its_file_and_old_answer(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, _, _):
            await send(fake, STAFF, STAFF, "亲，包邮吗？")
            card = card_id(fake, STAFF, "亲，包邮吗？")
            await start_edit(fake, STAFF, STAFF, card)
            await send(fake, STAFF, STAFF, "双十二期间全场包邮<新疆西藏除外>", containing="FAQ 候选")
            shown = await send(fake, MAINTAINER, MAINTAINER, "/candidates", containing="候选 #")
            text = shown["text"]
            assert "双十二期间全场包邮&lt;新疆西藏除外&gt;" in text
            assert "改写前依据：</b>包邮吗？ — <i>售后.csv</i>" in text, text
            assert "原答案：订单满 99 元包邮" in text, text

    run(scenario())


def test_a_screenshot_is_answered_with_what_the_bot_can_read(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, _, _):
            mark = fake.mark()
            photo = [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 160}]
            await fake.queue(fake.make_update(message=fake._user_message(fake.user(STAFF), STAFF, photo=photo)))
            reply = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == STAFF, after=mark)
            assert "复制成文字" in reply["text"]

    run(scenario())



def test_gaps_with_long_questions_fits_one_message_of_valid_html():
    from bot.memory.gaps import GapCluster
    from bot.telegram.maintain import gaps_text
    from tests.telegram_fake import check_html

    teas = ["西湖龙井", "安吉白茶", "碧螺春", "铁观音", "大红袍", "普洱熟茶", "祁门红茶", "黄山毛峰",
            "六安瓜片", "信阳毛尖", "白毫银针", "正山小种", "凤凰单丛", "君山银针", "太平猴魁"]
    clusters = []
    for tea in teas:
        examples = [f"问{k}{tea}：" + " &".join(f"{tea}{i}" for i in range(25)) for k in range(3)]
        clusters.append(GapCluster(representative=examples[0], examples=examples, count=3))
    text = gaps_text(45, clusters)
    check_html(text)  # no entity cut in half
    assert len(text) <= 4096 and "&amp;" in text and "类未列出" in text


def test_a_sync_report_with_long_warnings_fits_one_message():
    from bot.knowledge.sync import SyncReport
    from bot.telegram.maintain import report_text
    from tests.telegram_fake import check_html

    warnings = [f"售后.csv 第 {n} 行：答案很长 <" + "退货运费由买家承担" * 120 for n in range(8)]
    text = report_text(SyncReport(warnings=warnings, files=1))
    check_html(text)
    assert len(text) <= 4096 and "第 0 行" in text and "另有 3 条" in text


def test_candidates_says_how_many_wait_beyond_the_ones_shown(shop, tmp_path):  # noqa: F811
    from sqlmodel import Session

    from bot.memory import faq_candidates

    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, _):
            with Session(services.engine) as session:
                for n in range(13):
                    faq_candidates.add_candidate(session=session, question=f"第{n}个问题", answer=f"答案{n}")
                session.commit()
            head = await send(fake, MAINTAINER, MAINTAINER, "/candidates", containing="待处理")
            assert head["text"].startswith("13 条待处理") and "最早的 10 条" in head["text"], head["text"]

    run(scenario())
