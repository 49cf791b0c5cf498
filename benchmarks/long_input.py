"""Long and hostile input: every entry point on 100,000-character messages, and the LLM claim check
on adversarial replies.

    python benchmarks/long_input.py

Syncs the sample shop (knowledge/) into a temporary directory, loads the model once, then times
check_text, KnowledgeBase.search, Assistant.ask and the `check`, `ask` and `search` commands on
each input (wall seconds and this process's CPU seconds; the CLI figures include building the
command's services, and for ask/search loading the model, so the table also gives the same
command on a short message). Then serves the adversarial and faithful replies of
tests/test_claims_adversarial.py through the fake chat model and counts what is refused.
Our own samples only; nothing from /work/shared/data.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from click.testing import CliRunner  # noqa: E402

from bot.cli import cli  # noqa: E402
from bot.compliance.checker import check_text  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.drafting.assistant import Assistant  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.embeddings import make_embeddings  # noqa: E402
from bot.memory.db import init_db, make_engine  # noqa: E402
from tests.test_long_input import HOSTILE  # noqa: E402


def timed(fn) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="long-input-"))
    try:
        shutil.copytree(REPO / "knowledge", root / "knowledge")
        settings = Settings(data_dir=root / "data", knowledge_dir=root / "knowledge", _env_file=None)
        kb = KnowledgeBase(settings, embedder=make_embeddings(settings))
        kb.sync()
        engine = make_engine(settings)
        init_db(engine)
        assistant = Assistant(settings, knowledge=kb, engine=engine)
        assistant.ask("龙井怎么泡？")  # model, indexes and gate loaded before the clock starts
        check_text("预热")
        env = {"DIANXIAOER_DATA_DIR": str(root / "data"), "DIANXIAOER_KNOWLEDGE_DIR": str(root / "knowledge")}
        runner = CliRunner()

        def cli_run(*args: str) -> None:
            result = runner.invoke(cli, list(args), env=env)
            assert result.exit_code == 0, result.output

        short = root / "short.txt"
        short.write_text("龙井怎么泡\n", encoding="utf-8")
        print(f"{len(HOSTILE)} inputs of 100,000 characters; seconds as wall / CPU")
        print("| input | check_text | search | ask | CLI check | CLI ask --batch | CLI search --batch |")
        print("|---|---|---|---|---|---|---|")
        for name, text in HOSTILE.items():
            batch = root / f"{name}.txt"
            batch.write_text(text.replace("\n", " "), encoding="utf-8")
            cells = [
                timed(lambda: check_text(text, settings=settings)),
                timed(lambda: kb.search(text)),
                timed(lambda: assistant.ask(text)),
                timed(lambda: cli_run("check", text, "--json", "--no-model")),
                timed(lambda: cli_run("ask", "--batch", str(batch))),
                timed(lambda: cli_run("search", "--batch", str(batch))),
            ]
            print(f"| {name} | " + " | ".join(f"{w:.2f} / {c:.2f}" for w, c in cells) + " |", flush=True)
        base = [timed(lambda: cli_run(command, "--batch", str(short))) for command in ("ask", "search")]
        print(f"| (a short message) | | | | | {base[0][0]:.2f} / {base[0][1]:.2f} | {base[1][0]:.2f} / {base[1][1]:.2f} |")
        engine.dispose()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    from tests.test_claims_adversarial import ADVERSARIAL, FAITHFUL, _draft

    refused = sum(_draft(entry, reply).text is None for entry, reply, _ in ADVERSARIAL)
    kept = sum(_draft(entry, reply).text == reply for entry, reply in FAITHFUL)
    print(f"\nadversarial LLM replies refused: {refused} / {len(ADVERSARIAL)}")
    print(f"faithful paraphrases kept: {kept} / {len(FAITHFUL)}")


if __name__ == "__main__":
    main()
