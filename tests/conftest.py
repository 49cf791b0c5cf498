"""Shared fixtures: isolation from the developer's setup, the sample shop indexed once, real servers.

Server-backed variants (a Chroma server, a PostgreSQL cluster) run beside the embedded ones.
Locally a missing server binary skips them with one line saying how to install it; with
CI=true any skipped server test fails the run, so CI cannot pass without them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from bot.config import Settings
from bot.memory import models  # noqa: F401  (registers the tables)

from tests.servers import ChromaServer, PostgresCluster, ServerUnavailable

SHOP = Path(__file__).resolve().parent.parent / "knowledge"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# Isolation: no test sees the developer's DIANXIAOER_* variables or .env file.


@pytest.fixture(scope="session", autouse=True)
def _isolated_from_developer_environment():
    # Session-scoped, so it is in place before any module-scoped fixture builds Settings.
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("DIANXIAOER_"):
                patch.delenv(name)
        patch.setitem(Settings.model_config, "env_file", None)
        yield


@pytest.fixture
def settings(tmp_path):
    """Settings whose data and knowledge live in this test's temporary directory."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    return Settings(data_dir=tmp_path / "data", knowledge_dir=knowledge, _env_file=None)


# Real servers, started once per session on demand.


_server_skips: list[str] = []


def _unavailable(exc: ServerUnavailable):
    if IN_CI:
        pytest.fail(f"CI=true but a server test cannot run: {exc}", pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def postgres():
    try:
        cluster = PostgresCluster()
    except ServerUnavailable as exc:
        _unavailable(exc)
    yield cluster
    cluster.stop()


def _chroma():
    try:
        server = ChromaServer()
    except ServerUnavailable as exc:
        _unavailable(exc)
    return server


@pytest.fixture(scope="session")
def scratch_chroma():
    """A Chroma server that tests empty before use (see `chroma_url`)."""
    server = _chroma()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shop_chroma():
    """A Chroma server holding the sample shop, read by many tests and written by none."""
    server = _chroma()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "chroma-server"])
def chroma_url(request):
    """None (embedded Chroma in DATA_DIR) or the URL of an empty Chroma server."""
    if request.param == "embedded":
        return None
    server = request.getfixturevalue("scratch_chroma")
    server.reset()
    return server.url


SERVER_FIXTURES = {"postgres", "scratch_chroma", "shop_chroma", "sample_shop_on_server", "postgres_memory_engine"}
_server_tests: set[str] = set()


_not_run: list[str] = []
NEEDS = {
    "postgresql": {"postgres", "postgres_memory_engine"},
    "chroma": {"scratch_chroma", "shop_chroma", "sample_shop_on_server"},
}


def _needs(item) -> set[str]:
    names = set(getattr(item, "fixturenames", ()))
    kinds = {kind for kind, fixtures in NEEDS.items() if names & fixtures}
    if "postgresql" in item.nodeid:
        kinds.add("postgresql")
    if "chroma-server" in item.nodeid:
        kinds.add("chroma")
    return kinds


def pytest_collection_modifyitems(config, items):
    # A server test: it asks for a server fixture, or is the server variant of a parametrised one.
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) or _is_server_variant(item.nodeid):
            _server_tests.add(item.nodeid)
    from tests.servers import unavailable

    missing = unavailable()
    if IN_CI or not missing:
        return  # in CI the server fixtures fail instead (see _unavailable)
    # Locally: leave out what cannot run, and say so once per missing server, not once per test.
    keep, left_out = [], {kind: 0 for kind in missing}
    for item in items:
        lacking = _needs(item) & missing.keys()
        for kind in lacking:
            left_out[kind] += 1
        if not lacking:
            keep.append(item)
    kept = {id(item) for item in keep}
    config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
    items[:] = keep
    _not_run.extend(f"{n} tests not run: {missing[kind]}" for kind, n in left_out.items() if n)


def pytest_terminal_summary(terminalreporter):
    for line in _not_run:
        terminalreporter.write_line(line, yellow=True)


def _is_server_variant(nodeid: str) -> bool:
    return any(k in nodeid for k in ("chroma-server", "postgresql"))


def pytest_runtest_logreport(report):
    if report.skipped and IN_CI and (report.nodeid in _server_tests or _is_server_variant(report.nodeid)):
        _server_skips.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _server_skips:
        print(f"\nCI=true: {len(_server_skips)} server test(s) were skipped, which CI does not allow:")
        for nodeid in _server_skips:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The sample shop, indexed once per session and copied for whoever needs it.


@pytest.fixture(scope="session")
def e5():
    from bot.knowledge.embeddings import E5Embeddings

    return E5Embeddings()


@dataclass
class IndexedShop:
    """knowledge/ synced once into `root/data` (and into `chroma_url`, when set)."""

    root: Path
    report: object
    embedder: object
    chroma_url: str | None = None

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.root / "data", knowledge_dir=self.root / "knowledge",
            chroma_url=self.chroma_url, _env_file=None,
        )

    def copy_to(self, dest: Path) -> Settings:
        """A private copy (files, lexical index, embedded Chroma) that a test may write to."""
        shutil.copytree(self.root / "knowledge", dest / "knowledge")
        shutil.copytree(self.root / "data", dest / "data")
        return Settings(
            data_dir=dest / "data", knowledge_dir=dest / "knowledge",
            chroma_url=self.chroma_url, _env_file=None,
        )

    def knowledge_base(self):
        from bot.knowledge.base import KnowledgeBase

        return KnowledgeBase(self.settings, embedder=self.embedder)


def _index_shop(root: Path, embedder, chroma_url: str | None) -> IndexedShop:
    from bot.knowledge.base import KnowledgeBase

    shutil.copytree(SHOP, root / "knowledge")
    shop = IndexedShop(root, None, embedder, chroma_url)
    kb = KnowledgeBase(shop.settings, embedder=embedder)
    # Everything is on disk when sync returns: a copy of the folder opens as the same store.
    shop.report = kb.sync()
    return shop


@pytest.fixture(scope="session")
def sample_shop(tmp_path_factory, e5) -> IndexedShop:
    """The sample shop in embedded Chroma; copy it (`copy_to`) before writing to it."""
    return _index_shop(tmp_path_factory.mktemp("sample-shop"), e5, None)


@pytest.fixture(scope="session")
def sample_shop_on_server(tmp_path_factory, e5, shop_chroma) -> IndexedShop:
    """The sample shop in a Chroma server (read only: every copy shares the server's vectors)."""
    return _index_shop(tmp_path_factory.mktemp("sample-shop-server"), e5, shop_chroma.url)


@pytest.fixture
def learning_assistant(tmp_path, sample_shop):
    """An assistant on a copy of the sample shop whose index learns phrasings from its memory."""
    from bot.drafting.assistant import Assistant
    from bot.drafting.learning import DatabaseLearned
    from bot.knowledge.base import KnowledgeBase
    from bot.memory.db import init_db, make_engine

    settings = sample_shop.copy_to(tmp_path)
    engine = make_engine(settings)
    init_db(engine)
    kb = KnowledgeBase(settings, embedder=sample_shop.embedder, learned=DatabaseLearned(engine))
    return Assistant(settings, knowledge=kb, engine=engine)


@pytest.fixture(scope="session", params=["embedded", "chroma-server"])
def any_sample_shop(request) -> IndexedShop:
    return request.getfixturevalue("sample_shop" if request.param == "embedded" else "sample_shop_on_server")


# Memory: SQLite in memory, and the same tests on PostgreSQL.


@pytest.fixture(scope="session")
def postgres_memory_engine(postgres):
    """One PostgreSQL database with the product's schema, shared by the crud tests."""
    from bot.memory.db import init_db

    engine = create_engine(postgres.create_database("memory_tests"))
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine():
    """An in-memory SQLite database with every table, for tests that open their own sessions."""
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request):
    """A database with every table, for crud tests: in-memory SQLite, and a PostgreSQL server.

    On PostgreSQL each test runs inside a transaction rolled back at the end; the test's own
    commits only release savepoints, so tests stay independent without a database each.
    """
    if request.param == "sqlite":
        engine = create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
        )
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            yield session
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_memory_engine")
    with engine.connect() as connection:
        outer = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            yield session
        outer.rollback()
