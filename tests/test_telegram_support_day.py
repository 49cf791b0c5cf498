"""What a scripted support day found, end to end through the fake Bot API: a greeting's card, a
follow-up whose own words are another topic, and a FAQ candidate from a long paste."""

from __future__ import annotations

import csv

from tests.test_telegram import MAINTAINER, STAFF, card_id, click, run, running_bot, send, start_edit
from tests.test_telegram import shop  # noqa: F401  (the module's indexed shop)

STORY = "我上个月买过两次，一次给我爸买的龙井，一次自己喝的白茶，总体都挺满意的。"
PASTE = STORY * 38 + "\n客户原话：\n多久发货？\n" + STORY * 38


def buttons(message: dict) -> list[str]:
    return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def test_greeting_follow_up_and_long_candidate(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, _, _):
            await send(fake, STAFF, STAFF, "/customer C001")
            # A greeting: greet back, no hand-off wording, no entry offered to be taught 「在吗」.
            card = await send(fake, STAFF, STAFF, "在吗")
            assert "打个招呼，等客人说问题" in card["text"] and "需要人工" not in card["text"]
            assert "请问有什么可以帮您" in card["text"]
            assert not any(b.startswith("📌") for b in buttons(card))
            # 偏远地区 after the invoice question does not inherit the invoice entry.
            await send(fake, STAFF, STAFF, "能开发票吗")
            card = await send(fake, STAFF, STAFF, "那偏远地区呢")
            assert "需要人工" in card["text"] and "两种读法不一致" in card["text"], card["text"]
            assert "📌 能开发票吗？" in buttons(card)

            # A 2,700-character paste, edited by staff: the FAQ candidate's question is one line.
            assert len(PASTE) > 2700
            await send(fake, STAFF, STAFF, PASTE)
            await start_edit(fake, STAFF, STAFF, card_id(fake, STAFF, STORY))
            await send(fake, STAFF, STAFF, "付款后 48 小时内发货。\n节假日顺延，\"急单\"请备注。", containing="FAQ 候选")
            shown = await send(fake, MAINTAINER, MAINTAINER, "/candidates", containing="候选 #")
            assert "<b>问：</b>多久发货？" in shown["text"] and f"取自客户的 {len(PASTE)} 字原话" in shown["text"]
            mark = fake.mark()
            await click(fake, MAINTAINER, MAINTAINER, card_id(fake, MAINTAINER, "候选 #"), "采纳")
            report = await fake.wait_for("sendMessage", lambda p: "已同步" in p["text"], after=mark)
            assert "错误 0" in report["text"], report["text"]

            gaps = await send(fake, MAINTAINER, MAINTAINER, "/gaps")
            assert "那偏远地区呢" in gaps["text"] and "在吗" not in gaps["text"]
        written = base.knowledge_dir / "店员补充.csv"
        with written.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        written.unlink()  # the module's shop is shared with other tests
        knowledge.sync()
        assert rows[1] == ["多久发货？", "付款后 48 小时内发货。\n节假日顺延，\"急单\"请备注。"]

    run(scenario())
