"""Benchmark the checker on 店小二's own hand-written merchant messages, and its speed.

    .venv/bin/python benchmarks/compliance_own.py

tests/data/merchant_messages.tsv holds WeChat/Weibo merchant messages written for this project
(label 1 = overly promotional / non-compliant, 0 = fine, including the lawful uses: 最佳赏味期,
第一次购买, 最近, a dated and sourced ranking, offers with a stated period, service replies). The
shop in those messages trades as “最好茶庄”, configured as a brand term as a merchant would.
Throughput is the rules-only checker (the shipped default) over the same messages, with and
without building the rewrite.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.compliance.checker import check_text, scan  # noqa: E402
from bot.compliance.model import read_labelled_tsv  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
# merchant_messages.tsv was written alongside the rules (in-sample); the held-out file was written
# after the rules were frozen and never used to change them.
SAMPLE_FILES = (("own, in-sample", DATA / "merchant_messages.tsv"),
                ("own, held-out", DATA / "merchant_messages_heldout.tsv"))
BRANDS = ("最好茶庄",)


def main() -> None:
    rows = []
    for set_name, path in SAMPLE_FILES:
        examples = read_labelled_tsv(path)
        for channel in ("wechat", "weibo"):
            # The samples are labelled as broadcast copy, so they are checked as 群发 / 微博 posts.
            surface = "mass" if channel == "wechat" else "post"
            results = [(y, t, check_text(t, channel=channel, surface=surface, brand_terms=BRANDS)) for y, t in examples]
            tp = sum(1 for y, _, r in results if y and r.flagged)
            fp = sum(1 for y, _, r in results if not y and r.flagged)
            fn = sum(1 for y, _, r in results if y and not r.flagged)
            p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
            flagged = [res for _, _, res in results if res.flagged]
            passing = sum(1 for res in flagged
                          if not check_text(res.rewrite, channel=channel, surface=surface, brand_terms=BRANDS).flagged)
            rows.append((f"{set_name} ({len(examples)})", channel, p, r, 2 * p * r / max(1e-9, p + r),
                         fp, fn, f"{passing}/{len(flagged)}"))
            for y, text, res in results:
                if bool(y) != res.flagged:
                    print(f"  {set_name} {channel} {'FN' if y else 'FP'} score={res.score}: {text}")

    examples = read_labelled_tsv(SAMPLE_FILES[0][1])
    texts = [t for _, t in examples] * 20
    timings = {}
    for name, fn_ in (("scan only", lambda t: scan(t, "wechat", "mass", BRANDS)),
                      ("check_text incl. rewrite", lambda t: check_text(t, brand_terms=BRANDS))):
        start = time.perf_counter()
        for t in texts:
            fn_(t)
        elapsed = time.perf_counter() - start
        timings[name] = (len(texts) / elapsed, elapsed / len(texts) * 1000)

    print("\n| set (messages) | channel | precision | recall | F1 | FP | FN | rewrites that pass |")
    print("|---|---|---|---|---|---|---|---|")
    for name, channel, p, r, f1, fp, fn, rw in rows:
        print(f"| {name} | {channel} | {p:.3f} | {r:.3f} | {f1:.3f} | {fp} | {fn} | {rw} |")
    print("\n| speed (rules only, 1 thread) | messages/s | mean ms/message |")
    print("|---|---|---|")
    for name, (rate, ms) in timings.items():
        print(f"| {name} | {rate:,.0f} | {ms:.3f} |")
    print("\nreproduce: .venv/bin/python benchmarks/compliance_own.py")


if __name__ == "__main__":
    main()
