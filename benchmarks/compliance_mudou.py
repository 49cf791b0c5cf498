"""Benchmark the promotional-message checker on the mudou Chinese SMS spam set.

    .venv/bin/python benchmarks/compliance_mudou.py [--data DIR]

Data: ../shared/data/promo_eval/mudou_spam (evaluation only, not redistributable; never copied
into the repo). Rows are `label<TAB>text<TAB>segmentation`; malformed rows are skipped, texts are
de-duplicated within each split (first label kept) and test texts that also occur in train are
removed. Label 1 = unsolicited promotion.

Zero-shot: the shipped rules, nothing fitted on mudou. SMS is a point-to-point message, so the
headline uses the one-to-one surface (wechat customer_service); the mass-send surface is shown too.
Trained: `check train` on the train split (same code path: model.train), then `check` on test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.compliance.checker import check_text  # noqa: E402
from bot.compliance.model import load_model, save_model, train  # noqa: E402
from bot.config import Settings  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "promo_eval" / "mudou_spam"


def load(path: Path) -> tuple[dict[str, int], int]:
    rows: dict[str, int] = {}
    malformed = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or parts[0].strip() not in ("0", "1") or not parts[1].strip():
            malformed += 1
            continue
        rows.setdefault(parts[1].strip(), int(parts[0]))
    return rows, malformed


def metrics(pairs: list[tuple[int, bool]]) -> dict[str, float]:
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    tn = len(pairs) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"P": precision, "R": recall, "F1": f1, "acc": (tp + tn) / len(pairs), "FPR": fp / max(1, fp + tn)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()

    train_rows, bad_train = load(args.data / "mudou_spam.train")
    test_all, bad_test = load(args.data / "mudou_spam.test")
    test_rows = {t: y for t, y in test_all.items() if t not in train_rows}
    print(f"train {len(train_rows)} unique ({bad_train} malformed skipped); "
          f"test {len(test_rows)} unique after removing {len(test_all) - len(test_rows)} also in train "
          f"({bad_test} malformed skipped); test spam share {sum(test_rows.values()) / len(test_rows):.1%}")

    settings = Settings()
    table: list[tuple[str, dict[str, float]]] = []
    test = list(test_rows.items())
    for surface in ("customer_service", "mass"):
        start = time.perf_counter()
        pairs = [(y, check_text(t, channel="wechat", surface=surface, settings=settings).flagged) for t, y in test]
        elapsed = time.perf_counter() - start
        table.append((f"zero-shot rules, surface={surface}", metrics(pairs)))
        print(f"  ({surface}: {elapsed / len(test) * 1000:.2f} ms/message incl. rewrite)")

    examples = [(y, t) for t, y in train_rows.items()]
    start = time.perf_counter()
    model = train(examples)
    fit_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:  # round-trip through the file `check train` writes
        model = load_model(save_model(model, Path(tmp) / "checker_model.joblib"))
    assert model is not None
    probabilities = model.probabilities([t for t, _ in test])
    table.append(("trained model alone (p >= 0.5)", metrics([(y, p >= 0.5) for (_, y), p in zip(test, probabilities)])))
    for surface in ("customer_service", "mass"):
        start = time.perf_counter()
        pairs = [(y, check_text(t, channel="wechat", surface=surface, model=model, settings=settings).flagged)
                 for t, y in test]
        elapsed = time.perf_counter() - start
        table.append((f"check after `check train`, surface={surface}", metrics(pairs)))
        print(f"  (trained, {surface}: {elapsed / len(test) * 1000:.2f} ms/message incl. rewrite)")
    print(f"  (fitted on {len(examples)} train texts in {fit_seconds:.1f} s)")
    # For comparison with published figures, which use the raw test file (duplicates and
    # train overlap included): every valid row, counted as often as it occurs.
    raw = [(int(p[0]), p[1].strip()) for p in (line.split("\t") for line in
           (args.data / "mudou_spam.test").read_text(encoding="utf-8").splitlines())
           if len(p) >= 2 and p[0].strip() in ("0", "1") and p[1].strip()]
    raw_probabilities = model.probabilities([t for _, t in raw])
    table.append(("trained model alone, raw test file (as published)",
                  metrics([(y, p >= 0.5) for (y, _), p in zip(raw, raw_probabilities)])))

    print()
    print(f"| {'setting':<52} | {'P':>5} | {'R':>5} | {'F1':>5} | {'acc':>5} | {'ham FPR':>7} |")
    print(f"|{'-' * 54}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 9}|")
    for name, m in table:
        print(f"| {name:<52} | {m['P']:.3f} | {m['R']:.3f} | {m['F1']:.3f} | {m['acc']:.3f} | {m['FPR']:>7.3f} |")
    print("\nreproduce: .venv/bin/python benchmarks/compliance_mudou.py")


if __name__ == "__main__":
    main()
