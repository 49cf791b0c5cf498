"""Check that bot/policy decides exactly as the hand-off code it replaced, and what it costs.

The old modules (bot/drafting/needs.py, subjects.py, bot/knowledge/topics.py, normalize.py) are
read from a git revision before the move and run beside the current evaluator on every question
of every set in benchmarks/data against every entry of its shop. Prints the number of pairs,
how many decisions differ (rule and reason), the first differences, and microseconds per decision.

    python benchmarks/policy_equivalence.py                 # against b51e6ae, the last commit before
    python benchmarks/policy_equivalence.py --no-subject    # facets and universal rules only (faster)
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.knowledge.lexical import LexicalDoc, LexicalIndex  # noqa: E402
from bot.knowledge.normalize import normalize_message, to_simplified  # noqa: E402
from bot.knowledge.sync import scan  # noqa: E402
from bot.policy.evaluate import evaluate_entry  # noqa: E402
from bot.policy.loader import active_words  # noqa: E402
from bot.policy.rules import EntryView  # noqa: E402

DATA = ROOT / "benchmarks" / "data"


def old_module(revision: str, path: str, name: str) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{revision}:{path}"
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module


def shops() -> list[tuple[Path, list[Path]]]:
    found = [(ROOT / "knowledge", sorted(DATA.glob("tea_shop_questions*.tsv")))]
    return found + [(d / "knowledge", [d / "questions.tsv"]) for d in sorted(DATA.glob("heldout_*"))]


def questions(files: list[Path]) -> list[str]:
    texts: list[str] = []
    for path in files:
        with path.open(encoding="utf-8") as handle:
            texts += [row["question"] for row in csv.DictReader(handle, delimiter="\t")]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="b51e6ae", help="git revision holding the old code")
    parser.add_argument("--no-subject", action="store_true", help="leave out the subject rule (jieba; slower)")
    args = parser.parse_args()

    needs = old_module(args.against, "bot/drafting/needs.py", "old_needs")
    subjects = old_module(args.against, "bot/drafting/subjects.py", "old_subjects")
    topics = old_module(args.against, "bot/knowledge/topics.py", "old_topics")
    normalize = old_module(args.against, "bot/knowledge/normalize.py", "old_normalize")
    words = active_words()
    cues = dict(words.topics)
    changed = sorted(t for t in cues.keys() | topics.TOPIC_CUES.keys() if cues.get(t) != topics.TOPIC_CUES.get(t))
    # `bulk` differs only by issue 20's linear-time fix (digit runs tried from their first character).
    print(f"topic cues: {len(cues)}, differing from the old table: {changed or 'none'}")
    print(f"subject words identical: {words.not_a_subject == subjects._NOT_A_SUBJECT and words.after_sales == subjects.AFTER_SALES}")

    pairs = differ = messages = reread = 0
    old_time = new_time = 0.0
    for knowledge, files in shops():
        entries = list(scan(knowledge).entries.values())
        docs = [LexicalDoc(e.id, t, f"{e.id}:{n}") for e in entries for n, t in enumerate(e.phrasings)]
        lexical = LexicalIndex(docs, {e.id: {"question": e.question, "answer": e.answer} for e in entries})
        views = [
            EntryView(to_simplified(e.question), to_simplified(e.answer), tuple(to_simplified(p) for p in e.phrasings),
                      None if args.no_subject else lexical)
            for e in entries
        ]
        for raw in questions(files):
            messages += 1
            query = normalize_message(raw)
            reread += query != normalize.normalize_message(raw)
            for view in views:
                pairs += 1
                start = time.perf_counter()
                want = needs.unmet_need(query, view.answer, list(view.phrasings))
                if want is None and not args.no_subject:
                    want = subjects.swapped_subject(query, view.question, [*view.phrasings, view.answer], lexical)
                middle = time.perf_counter()
                hit = evaluate_entry(query, view)
                end = time.perf_counter()
                old_time, new_time = old_time + middle - start, new_time + end - middle
                got = hit.reason if hit else None
                if got != want:
                    differ += 1
                    if differ <= 10:
                        print(f"DIFFERS {knowledge.parent.name}: 「{query}」 vs 「{view.question}」: old {want!r}, new {got!r}")
    print(f"messages {messages}, read differently by normalize_message: {reread}")
    print(f"question x entry pairs {pairs}, decisions that differ: {differ}")
    print(f"per decision: old {old_time / pairs * 1e6:.1f} us, new {new_time / pairs * 1e6:.1f} us")


if __name__ == "__main__":
    main()
