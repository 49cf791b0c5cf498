"""rows.insert writes a reply's rows outside the unit of work and leaves them as a flush would;
staff.serving reads a staff member's state with one plain SELECT."""

from datetime import UTC, datetime

from sqlmodel import select

from bot.memory import crud, rows, staff
from bot.memory.models import Conversation, Draft, Message, StaffCard

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_an_inserted_row_has_its_id_defaults_and_types_and_a_later_change_is_an_update(session):
    draft = rows.insert(session, Draft(text="满 99 包邮", cited_entry_ids=["faq.md#1", "faq.md#2"]))
    assert draft.id is not None and draft.status == "pending" and draft.created_at.tzinfo is not None
    draft.status = "approved"  # changed after the insert: written with the transaction
    session.commit()
    session.expire_all()
    stored = session.exec(select(Draft)).all()
    assert [(d.id, d.status, d.cited_entry_ids) for d in stored] == [(draft.id, "approved", ["faq.md#1", "faq.md#2"])]


def test_a_row_with_its_own_key_keeps_it(session):
    draft = rows.insert(session, Draft(text="x"))
    card = rows.insert(session, StaffCard(draft_id=draft.id, chat_id=-100, message_id=7, question="包邮吗",
                                          customer_ref=None, nearest_entry_ids=["a"]))
    session.commit()
    session.expire_all()
    assert card.draft_id == draft.id
    assert session.get(StaffCard, draft.id).nearest_entry_ids == ["a"]


def test_add_messages_writes_them_in_order_and_moves_the_conversations_last_activity(session):
    conversation = crud.start_conversation(session=session, customer_id=None, channel="wechat", now=T0)
    later = datetime(2026, 11, 1, 11, tzinfo=UTC)
    crud.add_messages(session=session, conversation_id=conversation.id,
                      said=[("customer", "包邮吗"), ("assistant", "满 99 包邮")], now=later)
    assert conversation.last_message_at == later  # the session's copy reads as the row does
    session.commit()
    session.expire_all()
    assert session.get(Conversation, conversation.id).last_message_at == later
    said = session.exec(select(Message).order_by(Message.id)).all()
    assert [(m.role, m.text, m.created_at) for m in said] == [("customer", "包邮吗", later),
                                                              ("assistant", "满 99 包邮", later)]


def test_serving_reads_the_state_and_defaults_for_someone_new(session):
    assert (staff.serving(session=session, user_id=2**40).customer_ref, staff.serving(
        session=session, user_id=2**40).channel) == (None, "wechat")
    draft = rows.insert(session, Draft(text="x"))
    staff.set_customer(session=session, user_id=2**40, customer_ref="C001", channel="weibo")
    staff.start_edit(session=session, user_id=2**40, draft_id=draft.id, chat_id=-5, message_id=9)
    session.commit()
    state = staff.serving(session=session, user_id=2**40)
    assert (state.customer_ref, state.channel) == ("C001", "weibo")
    assert staff.editing_in(state, -5) is state and staff.editing_in(state, -6) is None
