"""docker-compose.yml and the Dockerfile, checked without Docker: what they say must hold."""

import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_three_services_with_pinned_images(compose):
    services = compose["services"]
    assert set(services) == {"bot", "chroma", "postgres"}
    assert services["bot"]["build"] == "."
    for name in ("chroma", "postgres"):
        image = services[name]["image"]
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.]+)?", image), f"{name}: {image} is not pinned"
    # The server speaks the protocol of the client the project installs.
    assert services["chroma"]["image"] == f"chromadb/chroma:{version('chromadb')}"


def test_the_bot_is_pointed_at_the_two_servers(compose):
    services = compose["services"]
    env = services["bot"]["environment"]
    chroma = urlparse(env["DIANXIAOER_CHROMA_URL"])
    assert (chroma.hostname, chroma.port) == ("chroma", 8000)
    database = make_url(env["DIANXIAOER_DATABASE_URL"])
    pg = services["postgres"]["environment"]
    assert database.drivername == "postgresql+psycopg" and database.host == "postgres" and database.port == 5432
    assert (database.username, database.database) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
    assert database.password.startswith("${POSTGRES_PASSWORD") and pg["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
    # Every DIANXIAOER_ variable is one Settings knows and accepts.
    fields = {f"DIANXIAOER_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields
    Settings(**{k.removeprefix("DIANXIAOER_").lower(): v for k, v in env.items()}, _env_file=None)
    assert services["bot"]["env_file"] == ".env"


def test_no_secret_is_written_into_the_file(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search("PASSWORD|TOKEN|KEY|SECRET", key):
                assert str(value).startswith("${"), f"{name}.{key} holds a literal secret"


def test_state_lives_in_named_volumes_and_knowledge_is_read_only(compose):
    services = compose["services"]
    env = services["bot"]["environment"]
    mounts = {m.split(":")[1]: m.split(":") for m in services["bot"]["volumes"]}
    assert mounts[env["DIANXIAOER_KNOWLEDGE_DIR"]][2:] == ["ro"]
    assert mounts[env["DIANXIAOER_DATA_DIR"]][0] in compose["volumes"]
    assert services["chroma"]["volumes"] == ["chroma-data:/data"]
    assert services["postgres"]["volumes"] == ["pg-data:/var/lib/postgresql/data"]
    assert set(compose["volumes"]) == {"bot-data", "chroma-data", "pg-data"}


def test_servers_have_healthchecks_the_bot_waits_for_and_publish_no_ports(compose):
    services = compose["services"]
    for name in ("chroma", "postgres"):
        check = services[name]["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 3
        assert "ports" not in services[name], f"{name} must not be reachable from outside"
        assert services["bot"]["depends_on"][name] == {"condition": "service_healthy"}
    assert services["postgres"]["healthcheck"]["test"][1:] == [
        "pg_isready", "-U", services["postgres"]["environment"]["POSTGRES_USER"],
        "-d", services["postgres"]["environment"]["POSTGRES_DB"],
    ]
    assert "/dev/tcp/localhost/8000" in services["chroma"]["healthcheck"]["test"][-1]


def _make_vars():
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return dict(re.findall(r"^(\w+) :?= (.+)$", text, re.M)), text


def _docker():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M)), text


def test_dockerfile_installs_cpu_torch_and_the_project_as_the_makefile_does():
    make, makefile = _make_vars()
    args, dockerfile = _docker()
    assert make["TORCH"] == args["TORCH"] == "torch==2.13.0+cpu"
    assert make["TORCH_INDEX"] == args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    assert "$(PIP) install --quiet --extra-index-url $(TORCH_INDEX) $(TORCH)" in makefile
    assert "pip install --no-cache-dir --extra-index-url ${TORCH_INDEX} ${TORCH}" in dockerfile
    # torch before the project in both, so the project's range cannot pull another build.
    assert makefile.index("$(TORCH)") < makefile.index("install --quiet -e '.[")
    assert dockerfile.index("${TORCH}\n") < dockerfile.index("pip install --no-cache-dir '.[postgres]'")
    assert "postgres" in re.search(r"-e '\.\[([\w,]+)\]'", makefile).group(1).split(",")
    assert version("torch") == "2.13.0+cpu"  # what this machine runs is what both install
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, re.M)


def test_the_image_gets_every_file_the_package_reads(tmp_path):
    """The Dockerfile's non-editable install builds a wheel: data files must be in it."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", "dist", "."],
        cwd=tmp_path, check=True, capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        str(p.relative_to(tmp_path)) for p in (tmp_path / "bot").rglob("*")
        if p.is_file() and p.suffix not in (".pyc",)
    }
    assert needed - shipped == set()
