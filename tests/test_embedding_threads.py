"""ONNX Runtime's pool threads do not spin: on two cores shared with the bot's Python and with
concurrent questions, spinning took the cores the work needed (benchmarks/README.md, Telegram)."""

import pytest

from bot.knowledge.e5_onnx import SPINNING, OnnxE5


@pytest.fixture(scope="module")
def model():
    return OnnxE5(threads=2)


def test_pool_threads_do_not_spin(model):
    options = model._session.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.get_session_config_entry(SPINNING) == "0"


def test_concurrent_questions_get_their_own_vectors(model):
    # Questions drafted side by side run the one session from several threads at once.
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"第{n}号订单什么时候发货" for n in range(12)] + ["龙井开封了能放多久", "满多少包邮"]
    alone = [model.query(t) for t in texts]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(model.query, texts))
    for a, b in zip(alone, together, strict=True):
        assert float(a @ b) > 0.99999
