"""`Assistant.ask` hands back the draft row it stored, so the Telegram card is shown from it
without reading the row back (one query fewer per reply on the event loop)."""

from sqlmodel import Session

from bot.drafting.assistant import Assistant
from bot.memory import crud
from bot.memory.db import init_db, make_engine


def test_ask_returns_the_stored_draft(sample_shop, tmp_path):
    settings = sample_shop.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'memory.db'}"})
    engine = make_engine(settings)
    init_db(engine)
    assistant = Assistant(settings, knowledge=sample_shop.knowledge_base(), engine=engine)
    for question, customer in (("龙井怎么保存", None), ("你们老板的手机号是多少", "王芳")):
        result = assistant.ask(question, customer=customer, channel="wechat")
        assert result.draft is not None and result.draft.id == result.draft_id
        with Session(engine) as session:
            stored = crud.get_draft(session=session, draft_id=result.draft_id)
            assert result.draft.model_dump() == stored.model_dump()
    engine.dispose()
