"""The Telegram adapter's pure parts and the memory services behind it: cards, callback data,
roles, staff state, FAQ candidates, service stats. No network, no model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.errors import DianxiaoerError
from bot.knowledge.readers import read_file
from bot.memory import crud, faq_candidates, staff
from bot.memory.models import Draft, StaffCard, utcnow
from bot.memory.stats import service_stats
from bot.telegram.cards import MAX_MESSAGE, callback, parse_callback, reply_card
from bot.telegram.copywriting import parse_push
from bot.telegram.roles import Roles

ENTRIES = {
    "e1": {"question": "包邮吗？", "answer": "满 99 元包邮。", "source": "售后.csv"},
    "e2": {"question": "多久发货？", "answer": "48 小时内发货。", "source": "售后.csv"},
}


def _buttons(markup) -> list[str]:
    return [b.text for row in markup.inline_keyboard for b in row]


def _draft(**fields) -> Draft:
    defaults = {"id": 7, "text": "您好，满 99 元包邮。", "confidence": 0.8, "created_at": utcnow()}
    return Draft(**{**defaults, **fields})


def _card(**fields) -> StaffCard:
    defaults = {"draft_id": 7, "chat_id": 1, "message_id": 2, "question": "满多少包邮", "customer_ref": "C001"}
    return StaffCard(**{**defaults, **fields})


def test_an_answered_card_shows_sources_confidence_and_four_buttons():
    text, markup = reply_card(_draft(cited_entry_ids=["e1"]), _card(), entries=ENTRIES, channel="wechat")
    assert "草稿 #7" in text and "C001" in text and "（微信）" in text
    assert "依据：" in text and "包邮吗？ — <i>售后.csv</i>" in text and "可以回复（把握 0.80）" in text
    assert _buttons(markup) == ["发送 ✅", "修改 ✏️", "转人工 🙋", "拒绝 ❌"]
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert data == ["ok:7", "ed:7", "ho:7", "no:7"]


def test_a_handed_off_card_offers_the_closest_entries_and_why():
    draft = _draft(needs_human=True, confidence=0.12, cited_entry_ids=[])
    card = _card(reason="最接近的是「多久发货？」，但把握不足", nearest_entry_ids=["e2", "gone", "e1"])
    text, markup = reply_card(draft, card, entries=ENTRIES)
    assert "需要人工" in text and "把握不足" in text
    # an entry removed from the FAQ since is not offered
    assert _buttons(markup) == ["📌 多久发货？", "📌 包邮吗？", "发送 ✅", "修改 ✏️", "拒绝 ❌"]
    assert [b.callback_data for b in markup.inline_keyboard[0]] == ["pk:7:0"]


def test_a_decided_card_has_no_buttons_and_the_final_text_to_copy():
    asked = utcnow()
    draft = _draft(status="edited", edited_text="亲，<满99>包邮 & 当天发", decided_by="小王 (tg 5)",
                   created_at=asked, decided_at=asked + timedelta(minutes=3, seconds=5))
    text, markup = reply_card(draft, _card(question="<b>包邮</b>?"), entries=ENTRIES)
    assert markup is None and "已修改" in text and "小王 (tg 5)" in text and "问题后 3 分 5 秒" in text
    assert "<pre>亲，&lt;满99&gt;包邮 &amp; 当天发</pre>" in text
    assert "&lt;b&gt;包邮&lt;/b&gt;?" in text  # the customer's own markup is text, not formatting


def test_a_card_never_exceeds_telegrams_limit():
    text, _ = reply_card(_draft(text="长" * 10_000), _card(question="问" * 10_000), entries=ENTRIES)
    assert len(text) <= MAX_MESSAGE and "已截断" in text


def test_callback_data_round_trips_and_foreign_data_is_ignored():
    assert parse_callback(callback("pick", 123456789, 2)) == ("pick", [123456789, 2])
    assert len(callback("push_soften", 10**18).encode()) <= 64
    for foreign in (None, "", "ok", "ok:x", "zz:1", "ok:1:-2"):
        assert parse_callback(foreign) is None


def test_roles_from_settings(tmp_path):
    settings = Settings(telegram_admins="1, 2", telegram_staff="3", telegram_maintainers="3,4", _env_file=None)
    roles = Roles.from_settings(settings)
    assert roles.may(1, "knowledge") and roles.may(1, "serve")
    assert roles.may(3, "serve") and roles.may(3, "knowledge") and not roles.may(4, "serve")
    assert not roles.known(99) and not roles.may(None, "stats")
    with pytest.raises(ValueError, match="numbers separated by commas"):
        Settings(telegram_staff="alice", _env_file=None)
    # Typed with a Chinese input method: full-width commas, 、 and spaces separate ids too.
    typed = Roles.from_settings(Settings(telegram_admins="1，2", telegram_staff="3、 4 5", _env_file=None))
    assert typed.may(2, "knowledge") and typed.may(4, "serve") and typed.may(5, "serve") and not typed.may(34, "serve")


def test_push_arguments_target_a_segment_or_a_known_customer():
    known = {"C001"}.__contains__
    assert parse_push(["wechat", "service", "新茶", "到货", "C001"], known) == (
        "wechat", "service", "新茶 到货", "C001", None)
    assert parse_push(["微博", "post", "#新茶#", "上市", "#金卡"], known) == ("weibo", "post", "#新茶# 上市", None, "金卡")
    assert parse_push(["weibo", "post", "上市", "#新茶#"], known)[2:] == ("上市 #新茶#", None, None)
    with pytest.raises(DianxiaoerError, match="用法"):
        parse_push(["wechat", "service"], known)


def test_staff_state_keeps_the_customer_and_a_pending_edit(session):
    draft = crud.create_draft(session=session, text="草稿")
    staff.set_customer(session=session, user_id=2**40, customer_ref=" C9 ", channel="weibo")
    staff.start_edit(session=session, user_id=2**40, draft_id=draft.id, chat_id=-100, message_id=5)
    session.commit()
    state = staff.get_state(session=session, user_id=2**40)
    assert (state.customer_ref, state.channel, state.editing_draft_id) == ("C9", "weibo", draft.id)
    assert staff.pending_edit(session=session, user_id=2**40, chat_id=-100) is not None
    assert staff.pending_edit(session=session, user_id=2**40, chat_id=2**40) is None  # another chat
    staff.clear_edit(session=session, user_id=2**40)
    assert staff.pending_edit(session=session, user_id=2**40, chat_id=-100) is None
    with pytest.raises(DianxiaoerError):
        staff.set_customer(session=session, user_id=1, customer_ref="C1", channel="qq")


def test_accepting_a_candidate_writes_a_readable_knowledge_file_once(session, tmp_path):
    first = faq_candidates.add_candidate(session=session, question="可以寄到香港吗", answer="可以，运费 30 元, 约 5 天")
    second = faq_candidates.add_candidate(session=session, question="可以寄到香港吗", answer="可以，运费 25 元")
    path = faq_candidates.accept_candidate(session=session, candidate_id=first.id, knowledge_dir=tmp_path, by="m")
    faq_candidates.accept_candidate(session=session, candidate_id=second.id, knowledge_dir=tmp_path, by="m")
    read = read_file(path, tmp_path)
    assert not read.errors and [(e.question, e.answer) for e in read.entries] == [("可以寄到香港吗", "可以，运费 25 元")]
    assert faq_candidates.list_candidates(session=session) == []
    with pytest.raises(DianxiaoerError, match="已处理"):
        faq_candidates.dismiss_candidate(session=session, candidate_id=first.id, by="m")
    assert not list(tmp_path.glob(".tmp-*"))


def test_service_stats_shares_and_waits(session):
    start = utcnow() - timedelta(hours=1)
    waits = {"approved": 60, "edited": 600, "rejected": 1800}
    for status, seconds in waits.items():
        draft = crud.create_draft(session=session, text="t")
        draft.created_at = start
        crud.decide_draft(session=session, draft_id=draft.id, status=status, by="s",
                          edited_text="x" if status == "edited" else None, now=start + timedelta(seconds=seconds))
    crud.create_draft(session=session, text="t", needs_human=True)  # still pending
    crud.create_draft(session=session, text="p", kind="push")  # not a reply
    figures = service_stats(session=session, since=start - timedelta(minutes=1))
    assert (figures.drafts, figures.answered, figures.decided, figures.accepted) == (4, 3, 3, 1)
    assert figures.answered_share == 0.75 and figures.acceptance_share == pytest.approx(1 / 3)
    assert figures.median_wait == timedelta(seconds=600)
    assert figures.p90_wait == timedelta(seconds=1560)  # 600 + 0.8 × 1200
    assert figures.within_standard == 2
    assert service_stats(session=session, since=utcnow() + timedelta(days=1)).acceptance_share is None
    assert len(session.exec(select(Draft)).all()) == 5


def test_updates_run_side_by_side_across_chats_and_in_order_within_one():
    import asyncio

    from telegram import Chat, Message, Update

    from bot.telegram.app import PerChatUpdateProcessor

    def update(update_id: int, chat_id: int) -> Update:
        message = Message(update_id, utcnow(), Chat(chat_id, "private"), text="x")
        return Update(update_id, message=message)

    async def scenario() -> list[str]:
        processor = PerChatUpdateProcessor(8)
        log: list[str] = []

        async def work(name: str, delay: float) -> None:
            log.append(f"start {name}")
            await asyncio.sleep(delay)
            log.append(f"end {name}")

        await asyncio.gather(
            processor.process_update(update(1, 10), work("a1", 0.05)),
            processor.process_update(update(2, 10), work("a2", 0.0)),
            processor.process_update(update(3, 20), work("b1", 0.0)),
        )
        assert not processor._chats  # nothing kept once a chat is idle
        return log

    log = asyncio.run(scenario())
    assert log.index("end a1") < log.index("start a2")  # one chat: in order
    assert log.index("end b1") < log.index("end a1")  # another chat: not held up


def test_escalation_keeps_the_first_press_and_counts_in_the_stats(session):
    start = utcnow() - timedelta(hours=1)
    draft = crud.create_draft(session=session, text="满 99 元包邮。")
    draft.created_at = start
    staff.record_card(session=session, draft_id=draft.id, chat_id=1, message_id=2, question="包邮吗", customer_ref=None)
    staff.escalate(session=session, draft_id=draft.id, by="tg 42 小王", now=start + timedelta(minutes=4))
    staff.escalate(session=session, draft_id=draft.id, by="tg 43 小李", now=start + timedelta(minutes=9))
    session.commit()
    card = staff.get_card(session=session, draft_id=draft.id)
    assert (card.escalated, card.escalated_by) == (True, "tg 42 小王")
    assert card.escalated_at - start == timedelta(minutes=4)
    figures = service_stats(session=session, since=start - timedelta(minutes=1))
    assert figures.escalated == 1 and figures.median_escalation_wait == timedelta(minutes=4)
    assert service_stats(session=session, since=utcnow() + timedelta(days=1)).escalated == 0


@pytest.mark.parametrize("replicas,rate", [(1, 30), (3, 10)])
def test_replicas_share_telegrams_flood_limit(tmp_path, replicas, rate):
    # Telegram counts one bot's messages whichever process sends them: each replica paces at its share.
    from pydantic import SecretStr

    from bot.telegram.app import build_application

    settings = Settings(data_dir=tmp_path, knowledge_dir=tmp_path, telegram_token=SecretStr("1:x"),
                        telegram_replicas=replicas, _env_file=None)
    app = build_application(object(), settings=settings, updater=False)  # type: ignore[arg-type]
    assert app.bot.rate_limiter._base_limiter.max_rate == rate
    assert build_application(object(), settings=settings, overall_max_rate=0, updater=False)  # type: ignore[arg-type]


def test_replies_are_drafted_in_the_services_own_threads_sized_by_how_they_are_worded():
    import asyncio
    import contextvars
    import os
    import threading
    from types import SimpleNamespace

    from bot.telegram.app import TelegramServices, drafting_threads
    from bot.telegram.common import drafting

    cores = os.cpu_count() or 1
    from_faq, worded = SimpleNamespace(chat_model=None), SimpleNamespace(chat_model=object())
    assert drafting_threads(from_faq) == cores + 1  # Python holding the GIL: no more than the cores + 1
    assert drafting_threads(worded) == min(32, cores + 4)  # waiting on a model: as many as asyncio's pool
    services = TelegramServices(assistant=from_faq)  # type: ignore[arg-type]
    assert services.drafting._max_workers == cores + 1
    context = SimpleNamespace(application=SimpleNamespace(bot_data={"services": services}))
    asked = contextvars.ContextVar("asked", default="")

    async def draft() -> tuple[str, str]:
        asked.set("包邮吗")  # what the handler knew reaches the drafting thread
        return await drafting(context, lambda: (threading.current_thread().name, asked.get()))

    name, seen = asyncio.run(draft())
    assert name.startswith("drafting") and seen == "包邮吗"
    services.drafting.shutdown()
