"""A customer's message staff corrected is no history: the re-draft does not read the uncorrected
text as something to follow up on, and superseding removes it (and its reply) from memory."""

from sqlmodel import Session, select

from bot.drafting.assistant import Assistant
from bot.memory import crud, staff
from bot.memory.db import init_db, make_engine
from bot.memory.models import Message


def test_the_uncorrected_message_is_neither_read_nor_kept(sample_shop, tmp_path):
    settings = sample_shop.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'memory.db'}"})
    engine = make_engine(settings)
    init_db(engine)
    assistant = Assistant(settings, knowledge=sample_shop.knowledge_base(), engine=engine)
    assistant.ask("你好", customer="C009", channel="wechat")
    typo = assistant.ask("龙井", customer="C009", channel="wechat")  # staff pasted the wrong line
    # Read after the uncorrected line, 「怎么泡」 would be its second half (a question sent in pieces).
    assert assistant.plan("怎么泡", ["你好", "龙井"]).answered[0].query == "龙井怎么泡"
    fixed = assistant.ask("怎么泡", customer="C009", channel="wechat", replacing=typo.draft_id)
    assert fixed.queries == ["怎么泡"]
    with Session(engine) as session:
        staff.supersede(session=session, draft_id=typo.draft_id)
        session.commit()
        texts = [m.text for m in session.exec(select(Message).order_by(Message.id)) if m.role == "customer"]
        assert texts == ["你好", "怎么泡"]
        assert crud.draft_exchange(session=session, draft=crud.get_draft(session=session, draft_id=fixed.draft_id))
    engine.dispose()
