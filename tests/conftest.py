import pytest
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from bot.config import Settings
from bot.memory import models  # noqa: F401  (registers the tables)


@pytest.fixture
def settings(tmp_path):
    """Settings whose data and knowledge live in this test's temporary directory."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    return Settings(data_dir=tmp_path / "data", knowledge_dir=knowledge, _env_file=None)


@pytest.fixture
def session():
    """An in-memory database with every table, for crud tests."""
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()
