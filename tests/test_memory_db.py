"""The memory database file: a corrupt one, the WAL on close, backups, and who may read it."""

import json
import shutil
import sqlite3
import stat

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.config import Settings
from bot.memory import crud
from bot.memory.db import MemoryDatabaseError, backup, close_engine, make_engine, open_db
from bot.memory.models import Draft
from bot.services import Services


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def shop(sample_shop, tmp_path_factory):
    root = tmp_path_factory.mktemp("memdb")
    sample_shop.copy_to(root)
    return root


def env_for(root):
    return {"DIANXIAOER_DATA_DIR": str(root / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(root / "knowledge")}


def test_a_corrupt_database_still_answers_from_the_faq_and_says_so(shop, tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(shop, root)
    db = root / "data" / "dianxiaoer.db"
    db.write_bytes(b"this is not a database, it was overwritten by a careless copy" * 100)
    result = CliRunner().invoke(cli, ["ask", "满多少包邮呀", "--json"], env=env_for(root))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["handoff"] is False and "99" in payload["reply"]
    assert str(db) in result.stderr and "mv" in result.stderr and "不带对话记忆" in result.stderr
    # Nothing was written over the broken file: it is the user's to move or restore.
    assert db.read_bytes().startswith(b"this is not a database")

    gaps = CliRunner().invoke(cli, ["gaps"], env=env_for(root))
    assert gaps.exit_code == 1 and str(db) in gaps.output and "Traceback" not in gaps.output


def test_an_unreachable_postgresql_is_a_clear_error_without_the_password(tmp_path):
    settings = Settings(
        data_dir=tmp_path, database_url="postgresql+psycopg://shop:s3cret@127.0.0.1:9/none", _env_file=None
    )
    with pytest.raises(MemoryDatabaseError, match="DIANXIAOER_DATABASE_URL") as caught:
        Services(settings).engine
    assert "s3cret" not in str(caught.value) and "127.0.0.1:9" in str(caught.value)


def test_closing_checkpoints_the_wal_so_the_db_file_alone_holds_everything(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    engine = open_db(settings)
    with Session(engine) as session:
        crud.create_customer(session=session, display_name="王姐")
        session.commit()
    wal = tmp_path / "data" / "dianxiaoer.db-wal"
    assert wal.exists() and wal.stat().st_size > 0  # before close the rows sit in the WAL
    close_engine(engine)
    assert not wal.exists() or wal.stat().st_size == 0
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "data" / "dianxiaoer.db").read_bytes())
    with sqlite3.connect(copy) as connection:
        assert connection.execute("select display_name from customer").fetchall() == [("王姐",)]


def test_ask_leaves_a_complete_db_file(shop, tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(shop, root)
    result = CliRunner().invoke(cli, ["ask", "能开发票吗", "--json"], env=env_for(root))
    assert result.exit_code == 0, result.output
    draft_id = json.loads(result.stdout)["draft_id"]
    copy = tmp_path / "only-the-db-file.db"
    copy.write_bytes((root / "data" / "dianxiaoer.db").read_bytes())
    with sqlite3.connect(copy) as connection:
        assert connection.execute("select id from draft").fetchall() == [(draft_id,)]


def test_data_dir_and_database_files_are_private(tmp_path):
    settings = Settings(data_dir=tmp_path / "new" / "data", _env_file=None)
    engine = open_db(settings)
    with Session(engine) as session:
        crud.create_customer(session=session, display_name="王姐")
        session.commit()
        data = tmp_path / "new" / "data"
        assert mode(data) == 0o700
        assert mode(data / "dianxiaoer.db") == 0o600
        assert mode(data / "dianxiaoer.db-wal") == 0o600
    engine.dispose()


def test_backup_command_copies_a_consistent_private_snapshot(tmp_path):
    env = {"DIANXIAOER_DATA_DIR": str(tmp_path / "data")}
    engine = open_db(Settings(data_dir=tmp_path / "data", _env_file=None))
    with Session(engine) as session:  # left open: the bot is still running
        draft = crud.create_draft(session=session, text="满 99 元包邮")
        session.commit()
        target = tmp_path / "backup.db"
        result = CliRunner().invoke(cli, ["backup", str(target)], env=env)
        assert result.exit_code == 0, result.output
        assert str(target) in result.output and mode(target) == 0o600
        copied = make_engine(Settings(data_dir=tmp_path, database_url=f"sqlite:///{target}", _env_file=None))
        with Session(copied) as other:
            assert [d.text for d in other.exec(select(Draft))] == ["满 99 元包邮"]
            assert other.get(Draft, draft.id) is not None
        copied.dispose()

        again = CliRunner().invoke(cli, ["backup", str(target)], env=env)
        assert again.exit_code == 1 and "已存在" in again.output
        folder = tmp_path / "backups"
        folder.mkdir()
        dated = CliRunner().invoke(cli, ["backup", str(folder)], env=env)
        assert dated.exit_code == 0 and [p.suffix for p in folder.iterdir()] == [".db"]
    engine.dispose()


def test_backup_on_postgresql_gives_pg_dump_advice_without_the_password(tmp_path):
    engine = make_engine(
        Settings(data_dir=tmp_path, database_url="postgresql+psycopg://shop:s3cret@db:5432/shop", _env_file=None)
    )
    with pytest.raises(MemoryDatabaseError, match="pg_dump") as caught:
        backup(engine, tmp_path / "x.dump")
    assert "s3cret" not in str(caught.value) and "postgresql://shop:***@db:5432/shop" in str(caught.value)


def test_a_data_dir_and_database_left_readable_by_the_previous_release_are_tightened(tmp_path):
    data = tmp_path / "data"
    engine = open_db(Settings(data_dir=data, _env_file=None))
    with Session(engine) as session:
        crud.create_customer(session=session, display_name="王姐")
        session.commit()
    engine.dispose()
    data.chmod(0o755)
    (data / "dianxiaoer.db").chmod(0o644)
    if (data / "dianxiaoer.db-wal").exists():
        (data / "dianxiaoer.db-wal").chmod(0o644)
    engine = Services(Settings(data_dir=data, _env_file=None)).engine
    try:
        assert mode(data) == 0o700
        assert mode(data / "dianxiaoer.db") == 0o600
        if (data / "dianxiaoer.db-wal").exists():
            assert mode(data / "dianxiaoer.db-wal") == 0o600
    finally:
        engine.dispose()


def test_a_folder_the_database_url_points_into_is_left_as_it_is(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    engine = make_engine(
        Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{shared / 'm.db'}", _env_file=None)
    )
    engine.dispose()
    assert mode(shared) == 0o755 and mode(shared / "m.db") == 0o600


def test_a_password_in_the_query_string_of_an_unreachable_database_url_is_not_shown(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://shop@127.0.0.1:9/none?password=s3cret&connect_timeout=2",
        _env_file=None,
    )
    with pytest.raises(MemoryDatabaseError, match="连不上记忆数据库") as caught:
        Services(settings).engine
    assert "s3cret" not in str(caught.value) and "127.0.0.1:9" in str(caught.value)


def test_backup_advice_hides_a_password_given_in_the_query_string(tmp_path):
    engine = make_engine(
        Settings(data_dir=tmp_path, database_url="postgresql+psycopg://shop@db:5432/shop?password=s3cret", _env_file=None)
    )
    with pytest.raises(MemoryDatabaseError, match="pg_dump") as caught:
        backup(engine, tmp_path / "x.dump")
    assert "s3cret" not in str(caught.value) and "postgresql://shop@db:5432/shop?password=***" in str(caught.value)


def test_without_memory_ask_shows_no_draft_id(shop, tmp_path):
    # The stand-in's ids name nothing after the command: `decide 1` would find no such draft.
    root = tmp_path / "shop"
    shutil.copytree(shop, root)
    (root / "data" / "dianxiaoer.db").write_bytes(b"not a database" * 100)
    text = CliRunner().invoke(cli, ["ask", "满多少包邮呀"], env=env_for(root))
    assert text.exit_code == 0, text.output
    assert "99" in text.stdout and "草稿编号" not in text.stdout
    payload = json.loads(CliRunner().invoke(cli, ["ask", "满多少包邮呀", "--json"], env=env_for(root)).stdout)
    assert payload["draft_id"] is None and "99" in payload["reply"]
    batch = tmp_path / "batch.txt"
    batch.write_text("满多少包邮呀\n", encoding="utf-8")
    line = CliRunner().invoke(cli, ["ask", "--batch", str(batch)], env=env_for(root)).stdout
    assert json.loads(line.splitlines()[0])["draft_id"] is None
