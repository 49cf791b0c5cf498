"""/push to one customer or a segment from Telegram: a mistyped customer id is named, not pasted into
the copy; a large segment's refusals still fit one message."""

from __future__ import annotations

from bot.push.writer import PushWriter
from tests.test_telegram import ADMIN, run, running_bot, send
from tests.test_telegram import shop  # noqa: F401  (the module's indexed shop)


def test_a_one_to_one_push_without_a_known_customer_names_the_unknown_id(shop, tmp_path):  # noqa: F811
    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, _):
            services.push_writer = PushWriter(services.settings, engine=services.engine, knowledge=knowledge)
            reply = await send(fake, ADMIN, ADMIN, "/push wechat service 明前龙井到货 C009")
            text = reply["text"]
            assert "一对一" in text and "「C009」不在客户资料里" in text and "客户编号或 #分组" in text, text
            assert "--customer" not in text  # the CLI's flags mean nothing in a chat
            reply = await send(fake, ADMIN, ADMIN, "/push weibo dm 新品到货")
            assert "客户编号或 #分组" in reply["text"] and "不在客户资料里" not in reply["text"], reply["text"]
            reply = await send(fake, ADMIN, ADMIN, "/push wechat moments 明前龙井到货")  # for everyone
            assert "推送草稿 #" in reply["text"], reply["text"]

    run(scenario())


def test_a_large_segments_refusals_fit_one_message():
    from datetime import UTC, datetime

    from bot.push.writer import PushResult, Refusal
    from bot.telegram.copywriting import _refusals
    from tests.telegram_fake import check_html

    refused = [Refusal(customer=f"老客户{n:03d}", reason="本月已收到 4 条推送，已达上限（每月 4 条）",
                       next_allowed_at=datetime(2026, 12, 31, 8, tzinfo=UTC)) for n in range(300)]
    text = _refusals(PushResult(drafts=[], refused=refused))
    assert len(text) <= 4096 and "老客户000" in text and "另有 280 位" in text
    check_html(text)


def test_a_segments_one_to_one_drafts_come_as_one_card_and_a_file_approved_at_once(shop, tmp_path):  # noqa: F811
    import csv
    import io

    from sqlmodel import Session, select

    from bot.memory import crud
    from bot.memory.models import Draft
    from tests.test_telegram import card_id, click

    base, knowledge = shop

    async def scenario() -> None:
        async with running_bot(base, knowledge, tmp_path / "bot.db") as (fake, services, _):
            services.push_writer = PushWriter(services.settings, engine=services.engine, knowledge=knowledge)
            with Session(services.engine) as session:
                for n in range(8):
                    person = crud.create_customer(session=session, display_name=f"茶友{n}", tags=("龙井控",))
                    person.ref = f"T{n:03d}"
                    session.add(person)
                    # each asked about 龙井 lately: a 客服消息 must answer what the customer raised
                    conversation = crud.start_conversation(session=session, customer_id=person.id,
                                                           channel="wechat")
                    crud.add_message(session=session, conversation_id=conversation.id, role="customer",
                                     text="明前龙井什么时候到货？")
                session.commit()
            mark = fake.mark()
            reply = await send(fake, ADMIN, ADMIN, "/push wechat service 明前龙井到货了 #龙井控")
            text = reply["text"]
            assert "8 条一对一草稿" in text and "分组 #龙井控" in text and "全部通过 ✅（8 条）" in str(
                reply["reply_markup"]), text
            cards = [c for c in fake.calls_to("sendMessage", after=mark) if "推送草稿 #" in c.params["text"]]
            assert not cards  # no card per customer
            document = await fake.wait_for("sendDocument", after=mark)
            [(chat, name, data)] = fake.documents
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
            assert chat == ADMIN and name.endswith(".csv") and rows[0][:3] == ["草稿编号", "客户", "文案"]
            assert sorted(r[1] for r in rows[1:]) == [f"T{n:03d}" for n in range(8)]
            assert all("龙井" in r[2] for r in rows[1:]) and document["caption"] == "8 条草稿"

            with Session(services.engine) as session:  # a colleague already rejected one
                first = min(d.id for d in session.exec(select(Draft).where(Draft.kind == "push")))
                crud.decide_draft(session=session, draft_id=first, status="rejected", by="同事")
                session.commit()
            mark = fake.mark()
            batch = card_id(fake, ADMIN, "8 条一对一草稿")
            await click(fake, ADMIN, ADMIN, batch, "全部通过 ✅（8 条）")
            edited = await fake.wait_for("editMessageText", after=mark)
            assert "已全部通过" in edited["text"] and "7 条" in edited["text"] and "1 条此前已处理" in edited["text"]
            assert "reply_markup" not in edited
            with Session(services.engine) as session:
                statuses = sorted(d.status for d in session.exec(select(Draft).where(Draft.kind == "push")))
            assert statuses == ["approved"] * 7 + ["rejected"]
            # a second press (a stale client still showing the button) changes nothing
            press = fake.press_update(fake.user(ADMIN), ADMIN, batch, f"pb:{first}")
            await fake.queue(press)
            answer = await fake.wait_for("answerCallbackQuery",
                                         lambda p: p["callback_query_id"] == press["callback_query"]["id"])
            assert "已全部处理过" in answer["text"]

    run(scenario())


def test_the_batch_file_shows_formula_like_cells_as_text():
    import csv
    import io
    from types import SimpleNamespace

    from bot.telegram.copywriting import batch_file

    drafts = [SimpleNamespace(draft_id=1, customer="=HYPERLINK(\"http://x\")", text="-满200减20", changed=False,
                              check=SimpleNamespace(score=0)),
              SimpleNamespace(draft_id=2, customer="C002", text="龙井到货了", changed=True, check=SimpleNamespace(score=5))]
    rows = list(csv.reader(io.StringIO(batch_file(drafts).decode("utf-8-sig"))))
    assert rows[1][1].startswith("'=") and rows[1][2] == "'-满200减20"
    assert rows[2][1:3] == ["C002", "龙井到货了"] and rows[2][4] == "是"
