"""Would a learned query-side adapter on the embedding separate answerable from unanswerable
questions better than the raw e5 cosine? (Offline; nothing here ships.)

    .venv/bin/python benchmarks/gate_adapter.py SHOP [SHOP ...] [--tea] [--folds 5] [--rank 32]

The adapter maps a query vector q to normalize(q + q·U·Vᵀ) (rank `--rank`; 0 = a per-dimension
weight only) and leaves every stored vector as it is, so a store needs no migration. It is trained
on the shops' labelled questions with a softmax over the shop's entries plus one "hand off" column
(in scope: the right entry; out of scope: hand off), and on each FAQ's own phrasings (a phrasing,
its own vector left out, should find its entry). Shops are split into folds: each fold's shops are
scored by an adapter trained on the others (the sample tea shop is always trained on, never scored).

Printed per variant, mean over scored shops: right entry first by dense score alone, and the AUC
of the top cosine (and of top cosine minus the runner-up's) for "in scope and right first" against
"out of scope" — the separation the gate's threshold works with.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gate_shops import opened_shops  # noqa: E402

from bot.knowledge.normalize import normalize_message  # noqa: E402
from bot.knowledge.retrieve import exact_vectors  # noqa: E402


@dataclass
class ShopVectors:
    name: str
    phrasings: np.ndarray  # (n, d) unit rows
    entry_of: np.ndarray  # (n,) entry index per phrasing
    n_entries: int
    queries: np.ndarray  # (m, d)
    target: np.ndarray  # (m,) entry index, -1 out of scope


def extract(shop, embedder) -> ShopVectors:  # type: ignore[no-untyped-def]
    lexical = shop.kb.lexical
    matrix = exact_vectors(shop.kb.store, lexical)
    assert matrix is not None, shop.name
    ids = sorted({d.entry_id for d in lexical.docs})
    index = {e: i for i, e in enumerate(ids)}
    by_question = {str(lexical.entries[e].get("question", "")): index[e] for e in ids}
    rows = [(q, by_question.get(expected, -1) if label == "in" else -1, label) for label, expected, q in shop.rows]
    rows = [r for r in rows if not (r[2] == "in" and r[1] < 0)]  # an expected question the FAQ lacks
    queries = embedder.encode_queries([normalize_message(q) for q, _, _ in rows])
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return ShopVectors(
        shop.name, matrix.astype(np.float32), np.array([index[d.entry_id] for d in lexical.docs]), len(ids),
        queries.astype(np.float32), np.array([t for _, t, _ in rows]),
    )


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    if not len(pos) or not len(neg):
        return float("nan")
    allv = np.concatenate([pos, neg])
    ranks = allv.argsort().argsort() + 1.0
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def entry_scores(q: np.ndarray, s: ShopVectors, leave_out: np.ndarray | None = None) -> np.ndarray:
    """(m, entries): best cosine of each query to each entry's phrasings."""
    cos = q @ s.phrasings.T
    if leave_out is not None:
        cos[np.arange(len(q)), leave_out] = -2.0
    out = np.full((len(q), s.n_entries), -2.0, dtype=np.float32)
    np.maximum.at(out.T, s.entry_of, cos.T)
    return out


def evaluate(s: ShopVectors, q: np.ndarray) -> tuple[float, float, float]:
    scores = entry_scores(q, s)
    order = np.argsort(-scores, axis=1)
    top = scores[np.arange(len(q)), order[:, 0]]
    second = scores[np.arange(len(q)), order[:, 1]] if s.n_entries > 1 else np.zeros(len(q))
    inside = s.target >= 0
    right = inside & (order[:, 0] == s.target)
    r1 = float(right[inside].mean())
    return r1, auc(top[right], top[~inside]), auc((top - second)[right], (top - second)[~inside])


def train(shops: list[ShopVectors], rank: int, steps: int, decay: float, self_weight: float, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    d = shops[0].phrasings.shape[1]
    scale = torch.nn.Parameter(torch.ones(d))
    u = torch.nn.Parameter(torch.randn(d, rank) * 0.01) if rank else None
    v = torch.nn.Parameter(torch.zeros(d, rank)) if rank else None
    temp = torch.nn.Parameter(torch.tensor(20.0))
    null = torch.nn.Parameter(torch.tensor(0.85))
    params = [p for p in (scale, u, v, temp, null) if p is not None]
    opt = torch.optim.Adam(params, lr=3e-3)
    data = []
    for s in shops:
        p = torch.from_numpy(s.phrasings)
        ent = torch.from_numpy(s.entry_of)
        # each phrasing as a question, its own vector left out, when its entry has another
        counts = np.bincount(s.entry_of, minlength=s.n_entries)
        own = np.where(counts[s.entry_of] > 1)[0]
        data.append((p, ent, s.n_entries, torch.from_numpy(s.queries), torch.from_numpy(s.target),
                     torch.from_numpy(s.phrasings[own]), torch.from_numpy(s.entry_of[own]), torch.from_numpy(own)))

    def adapt(q):  # type: ignore[no-untyped-def]
        out = q * scale
        if u is not None:
            out = out + (q @ u) @ v.T
        return out / out.norm(dim=1, keepdim=True)

    def shop_loss(p, ent, n, q, target, leave=None):  # type: ignore[no-untyped-def]
        cos = adapt(q) @ p.T
        if leave is not None:
            cos = cos.clone()
            cos[torch.arange(len(q)), leave] = -2.0
        best = torch.full((len(q), n), -2.0).scatter_reduce(1, ent.expand(len(q), -1), cos, reduce="amax")
        logits = torch.cat([best * temp, (null * temp).expand(len(q), 1)], dim=1)
        labels = torch.where(target >= 0, target, torch.tensor(n))
        return torch.nn.functional.cross_entropy(logits, labels)

    for _ in range(steps):
        opt.zero_grad()
        loss = torch.tensor(0.0)
        for p, ent, n, q, target, own_q, own_t, own_rows in data:
            loss = loss + shop_loss(p, ent, n, q, target)
            if self_weight and len(own_rows):
                loss = loss + self_weight * shop_loss(p, ent, n, own_q, own_t, own_rows)
        loss = loss / len(data)
        reg = ((scale - 1) ** 2).sum()
        if u is not None:
            reg = reg + (u @ v.T).pow(2).sum()
        (loss + decay * reg).backward()
        opt.step()

    def apply(q: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return adapt(torch.from_numpy(q)).numpy()

    return apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="+")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--variants", default="0:0.1:1,16:0.1:1,64:0.1:1",
                        help="comma-separated rank:decay:self_weight")
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()

    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        data = [extract(s, embedder) for s in shops]
    scored = [s for s in data if s.name != "tea"]
    folds = [scored[i :: args.folds] for i in range(args.folds)]

    base = np.array([evaluate(s, s.queries) for s in scored])
    print(f"{len(scored)} shops scored, {sum(len(s.target) for s in scored)} questions")
    print(f"{'variant':<22} {'R@1':>6} {'AUC top':>8} {'AUC margin':>10}")
    print(f"{'raw e5':<22} {base[:, 0].mean():6.3f} {np.nanmean(base[:, 1]):8.3f} {np.nanmean(base[:, 2]):10.3f}")
    for variant in args.variants.split(","):
        rank, decay, self_weight = variant.split(":")
        started = time.perf_counter()
        results = {}
        for fold in folds:
            names = {s.name for s in fold}
            apply = train([s for s in data if s.name not in names], int(rank), args.steps, float(decay),
                          float(self_weight))
            for s in fold:
                results[s.name] = evaluate(s, apply(s.queries))
        got = np.array([results[s.name] for s in scored])
        print(f"{variant:<22} {got[:, 0].mean():6.3f} {np.nanmean(got[:, 1]):8.3f} {np.nanmean(got[:, 2]):10.3f}"
              f"   ({time.perf_counter() - started:.0f} s; AUC top better on {(got[:, 1] > base[:, 1]).sum()}"
              f"/{len(scored)} shops)")


if __name__ == "__main__":
    main()
