"""Fit the gate's shared parts on out-of-fold features of a re-trained encoder. Offline.

    .venv/bin/python benchmarks/gate_oof.py --layers F0.npz,F1.npz,... SHOP [SHOP ...] [--write]

Fitted on features from an encoder that was trained on the same shops, the gate learns how close
a training shop's in-scope questions sit to their entries, closer than a new shop's will, and
answers too readily (benchmarks/README.md, "The encoder's top layers re-trained"). Here the
shops are split into as many folds as files given (shop i in fold i mod k, the order given; the
same split `e5_finetune.py` trains the files on when given the other folds), each shop is synced
and searched with the file trained without it, and the shared parts are fitted on all of them.
The sample tea shop is in every file's training, so it is left out. Prints the leave-one-shop-out
figures of that fit (`gate_fit.py --loso`'s, on out-of-fold features) and, with `--write`,
writes the fitted parts to the product's calibration file in this tree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import gate_fit as gf  # noqa: E402
from gate_shops import CACHE, CachedEmbeddings, open_shop, parse_shop  # noqa: E402

from bot.knowledge.embeddings import E5Embeddings  # noqa: E402


def tuned_embedder(layers: Path) -> CachedEmbeddings:
    class _Tuned(E5Embeddings):
        def __init__(self) -> None:
            super().__init__(tuned=layers)

    class Tuned(CachedEmbeddings, _Tuned):  # CachedEmbeddings' own init reaches _Tuned's
        pass

    return Tuned(CACHE / "query_vectors.pkl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shops", nargs="+")
    parser.add_argument("--layers", required=True, help="one re-trained file per fold, comma-separated")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    shops = [parse_shop(s) for s in args.shops]
    files = [Path(p) for p in args.layers.split(",")]
    k = len(files)
    datas = []
    for fold, layers in enumerate(files):
        embedder = tuned_embedder(layers)
        try:
            for shop in shops[fold::k]:
                shop.kb = open_shop(shop, embedder)
                datas.append(gf.collect(shop))
        finally:
            embedder.save()
        print(f"fold {fold}: {len(shops[fold::k])} shops with {embedder.name}", flush=True)
    gate = gf.fit_shared(datas)
    rates = np.array([gf.example_rates(gf.fit_shared([d for d in datas if d is not data]), data) for data in datas])
    print(f"{len(datas)} shops, out-of-fold features: leave-one-shop-out mean top-1 {rates[:, 0].mean():.3f}, "
          f"answered right {rates[:, 1].mean():.3f}, handed off {rates[:, 2].mean():.3f}; "
          f"lowest {rates[:, 1].min():.3f} / {rates[:, 2].min():.3f}; threshold {gate.threshold}")
    if args.write:
        gf.write(gate, [s.name for s in shops])
        print(f"wrote {gf.CALIBRATION}")


if __name__ == "__main__":
    main()
