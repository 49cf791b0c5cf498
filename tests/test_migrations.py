"""Alembic migrations on SQLite and PostgreSQL: an empty database, one made by the previous
release, two processes starting at once, and the migrated schema equal to the models."""

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect
from sqlmodel import Session, SQLModel, select

from bot.cli import cli
from bot.config import Settings
from bot.memory import crud
from bot.memory.db import BASELINE, head_revision, make_engine, open_db, schema_revision
from bot.memory.models import Customer, Draft, Message, UnansweredQuestion

RELEASE_0_1 = Path(__file__).parent / "data" / "models_0_1.py"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A URL of an empty database of each kind (a new file; a new database on the test cluster)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'memory.db'}"
    name = "mig_" + request.node.name.split("[")[0][-40:].lower()
    return request.getfixturevalue("postgres").create_database(name)


def settings_for(url, tmp_path):
    return Settings(data_dir=tmp_path, database_url=url, _env_file=None)


def schema_diff(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_an_empty_database_is_migrated_to_exactly_the_models(database_url, tmp_path):
    engine = open_db(settings_for(database_url, tmp_path))
    assert schema_revision(engine) == head_revision()
    assert schema_diff(engine) == []
    open_db(settings_for(database_url, tmp_path)).dispose()  # a second start changes nothing
    assert schema_diff(engine) == []
    engine.dispose()


def test_a_database_of_the_previous_release_keeps_every_row(database_url, tmp_path):
    subprocess.run([sys.executable, str(RELEASE_0_1), database_url], check=True)
    before = create_engine(database_url)
    assert "alembic_version" not in inspect(before).get_table_names()
    before.dispose()

    engine = open_db(settings_for(database_url, tmp_path))
    assert schema_revision(engine) == head_revision() != BASELINE
    assert schema_diff(engine) == []
    with Session(engine) as session:
        [wang] = session.exec(select(Customer)).all()
        assert (wang.display_name, wang.wechat_id, wang.tags, wang.ref) == ("王姐", "wx_wang", ["金卡"], None)
        assert [m.text for m in session.exec(select(Message))] == ["龙井多少钱"]
        [draft] = session.exec(select(Draft)).all()
        assert (draft.text, draft.status, draft.cited_entry_ids) == ("明前龙井 268 元一罐", "approved", ["a.csv#1"])
        assert draft.decided_at is not None and draft.decided_at.tzinfo is not None
        assert [q.text for q in session.exec(select(UnansweredQuestion))] == ["有咖啡豆吗"]
        # What the new schema adds works on the old rows.
        assert crud.find_customer(session=session, ref="wx_wang").id == wang.id
        crud.create_customer(session=session, display_name="李先生")
        session.commit()
    engine.dispose()


def test_two_processes_starting_at_once_both_find_the_schema_ready(database_url, tmp_path):
    code = (
        "import sys; from bot.config import Settings; from bot.memory.db import open_db;"
        "open_db(Settings(data_dir=sys.argv[2], database_url=sys.argv[1], _env_file=None)).dispose()"
    )
    starts = [
        subprocess.Popen([sys.executable, "-c", code, database_url, str(tmp_path)], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in starts:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    engine = make_engine(settings_for(database_url, tmp_path))
    assert schema_revision(engine) == head_revision() and schema_diff(engine) == []
    engine.dispose()


def test_db_upgrade_command_reports_the_versions(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    subprocess.run([sys.executable, str(RELEASE_0_1), url], check=True)
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path), "DIANXIAOER_DATABASE_URL": url}
    first = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    assert f"{BASELINE}（上一版本，迁移之前） → {head_revision()}" in first.output
    again = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert again.exit_code == 0 and f"已是最新版本 {head_revision()}" in again.output
