"""Real servers for tests: a Chroma server and a throwaway PostgreSQL cluster.

Each runs from a temporary directory on a free 127.0.0.1 port and is stopped when the test
session ends. A missing binary is a `ServerUnavailable` whose message says how to get it;
conftest turns that into a skip locally and a failure in CI.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

POSTGRES_HINT = (
    "PostgreSQL server binaries not found (initdb, pg_ctl); on Debian/Ubuntu: "
    "sudo apt-get install postgresql"
)
CHROMA_HINT = "`chroma` not found next to this Python; it comes with chromadb: make setup"


class ServerUnavailable(RuntimeError):
    """A server binary is missing; the message says how to install it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, what: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        if check():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s\n{tail}")


def chroma_binary() -> Path | None:
    beside = Path(sys.executable).with_name("chroma")
    found = beside if beside.exists() else shutil.which("chroma")
    return Path(found) if found else None


def unavailable() -> dict[str, str]:
    """The servers that cannot start on this machine, each with how to get it."""
    missing = {}
    if chroma_binary() is None:
        missing["chroma"] = CHROMA_HINT
    if postgres_bin() is None:
        missing["postgresql"] = POSTGRES_HINT
    elif os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing["postgresql"] = "running as root needs the `postgres` user: " + POSTGRES_HINT
    return missing


class ChromaServer:
    """`chroma run` on a temporary path; `url` is what DIANXIAOER_CHROMA_URL takes."""

    def __init__(self) -> None:
        binary = chroma_binary()
        if binary is None:
            raise ServerUnavailable(CHROMA_HINT)
        self.dir = Path(tempfile.mkdtemp(prefix="dxe-chroma-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = self.dir / "server.log"
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [str(binary), "run", "--path", str(self.dir / "db"), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            _wait(self._alive, "chroma run", 60, self._proc, self._log)
        except BaseException:
            self.stop()
            raise

    def _alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def reset(self) -> None:
        """Drop every collection, so a test starts from an empty server."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.HttpClient(
            host="127.0.0.1", port=self.port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        for collection in client.list_collections():
            client.delete_collection(collection.name)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server bin dir on this machine (Debian layout, or on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """A throwaway cluster: initdb into a temporary dir, pg_ctl start on a free port, trust auth.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
    the Debian package creates, and every server command runs as that user.
    """

    def __init__(self) -> None:
        bindir = postgres_bin()
        if bindir is None:
            raise ServerUnavailable(POSTGRES_HINT)
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="dxe-pg-"))
        self.port = free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise ServerUnavailable(
                    "running as root needs the `postgres` user to start PostgreSQL: " + POSTGRES_HINT
                ) from exc
            self._user = "postgres"
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        data, log = self.dir / "data", self.dir / "server.log"
        self._run(["initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        self._run([
            "pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o",
            # A throwaway cluster: durability buys nothing and costs seconds.
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        ])
        self._started = True

    def _run(self, argv: list[str]) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed:\n{done.stdout}\n{done.stderr}")

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if getattr(self, "_started", False):
            self._started = False
            try:
                self._run(["pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"])
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
