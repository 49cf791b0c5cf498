"""Staff decisions teach the gate what recurs in this shop: the decision memory (a message close
to a rejected one leans to hand-off, close to an approval of its first candidate to answering),
its per-shop fit, robustness to a wrong decision, and the next `ask` seeing a decision at once."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session

from bot.drafting.calibration import Example, ShopCalibration, fit_decisions
from bot.drafting.decision_memory import CLIP, DecisionMemory
from bot.drafting.learning import record_decision
from bot.memory.db import make_engine
from bot.memory.learned import labels_stamp, record_label

DIM = 32


class NoEncoder:
    def encode_queries(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("embedded a message although no decision could lean it")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _shop(seed: int, *, repeats: bool, topics: int = 40, per_topic: int = 3):
    """Synthetic decisions. With `repeats`, each topic is asked `per_topic` times in nearly the
    same words; half the topics the FAQ answers (entry = the topic), half staff rejected. The
    shared score is noise around the boundary, so only the memory can tell them apart. Without
    `repeats`, every message is its own topic and labels are coin flips."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(topics, DIM)))
    vectors, entries, examples = [], [], []
    for t in range(topics):
        for _ in range(per_topic):
            i = len(vectors)
            if repeats:
                vectors.append(_unit(centres[t] + 0.15 * rng.normal(size=DIM)))
                entry = f"e{t}" if t % 2 == 0 else None
            else:
                vectors.append(_unit(rng.normal(size=DIM)))
                entry = f"e{t}" if rng.random() < 0.5 else None
            entries.append(entry)
            top = entry if entry is not None else f"e{(t + 1) % topics}"
            examples.append(Example(float(rng.normal(0.0, 0.5)), int(entry is not None), top=top, decision=i))
    return np.array(vectors), entries, examples, centres


def _fit(vectors, entries, examples):
    memory = DecisionMemory.build(vectors, entries)
    fitted = fit_decisions(ShopCalibration(stamp="x"), examples, memory, prior_weight=30.0, floor=0.25)
    memory.weights = fitted.weights
    return memory, fitted


def test_closeness_is_read_on_this_shops_scale_and_clipped():
    vectors, entries, _, _ = _shop(1, repeats=True)
    memory = DecisionMemory.build(vectors, entries)
    # An exact repeat of a rejected message is as close as this shop's decisions ever get.
    rejected = entries.index(None)
    approved_close, rejected_close = memory.signals(vectors[rejected], "e0")
    assert rejected_close > 1.0 and rejected_close <= CLIP
    # No approval of the candidate at all counts as the farthest, not as a cosine of 0.
    assert approved_close == -CLIP or memory.entries[rejected] is None
    assert memory.signals(vectors[0], "no-such-entry")[0] == -CLIP
    # A shop whose messages all sit close together (every cosine squeezed toward 1): the raw
    # cosines move, but a decision as close to its nearest neighbour as this shop's usual one
    # reads as 0 in both.
    squeezed = _unit(vectors + 3.0 * _unit(np.ones(DIM)))
    tight = DecisionMemory.build(squeezed, entries)
    assert tight.centre > memory.centre + 0.1
    for shop, vs in ((memory, vectors), (tight, squeezed)):
        nearest = [max(shop.relative(float(c)) for j, c in enumerate(shop.vectors @ vs[i]) if j != i)
                   for i in range(len(vs))]
        assert abs(float(np.median(nearest))) < 0.05


def test_no_weights_means_no_embedding_and_no_lean():
    vectors, entries, _, _ = _shop(2, repeats=True)
    memory = DecisionMemory.build(vectors, entries, encoder=NoEncoder())
    assert memory.adjust("你们卖咖啡豆吗", "e0") == 0.0
    calibration = ShopCalibration(stamp="x", shift=0.5, scale=2.0, memory=memory)
    assert calibration.logit(1.0, "你们卖咖啡豆吗", "e0") == 2.5
    assert "memory" not in calibration.to_json()
    assert ShopCalibration.from_json(calibration.to_json()).memory is None


def test_the_fit_trusts_the_memory_where_messages_repeat_and_not_where_they_do_not():
    repeating = _fit(*_shop(3, repeats=True)[:3])[1]
    assert repeating.weights[0] > 0.3 and repeating.weights[1] < -0.3
    for seed in (4, 5, 6):
        fitted = _fit(*_shop(seed, repeats=False)[:3])[1]
        approved, rejected = fitted.weights
        assert 0.0 <= approved < 0.15 and -0.15 < rejected <= 0.0  # sign bounds hold, noise is ignored


def test_a_repeat_of_a_rejected_message_leans_to_hand_off_and_of_an_approved_one_to_answering():
    vectors, entries, examples, centres = _shop(7, repeats=True)
    memory, fitted = _fit(vectors, entries, examples)
    rng = np.random.default_rng(70)
    for t in range(0, 40, 2):  # answered topics: a new repeat whose first candidate is the entry
        fresh = _unit(centres[t] + 0.15 * rng.normal(size=DIM))
        assert np.dot(fitted.weights, memory.signals(fresh, f"e{t}")) > 0
    for t in range(1, 40, 2):  # rejected topics
        fresh = _unit(centres[t] + 0.15 * rng.normal(size=DIM))
        assert np.dot(fitted.weights, memory.signals(fresh, f"e{(t + 1) % 40}")) < 0


def test_one_wrong_decision_cannot_flip_the_shop():
    vectors, entries, examples, centres = _shop(8, repeats=True)
    memory, good = _fit(vectors, entries, examples)
    # Staff err once: an answered topic's message rejected.
    wrong = _unit(centres[0] + 0.15 * np.random.default_rng(80).normal(size=DIM))
    bad_vectors = np.vstack([vectors, wrong])
    bad_entries = [*entries, None]
    bad_examples = [*examples, Example(0.0, 0, top="e0", decision=len(entries))]
    bad_memory, bad = _fit(bad_vectors, bad_entries, bad_examples)
    assert abs(bad.shift - good.shift) < 0.1 and abs(bad.scale - good.scale) < 0.1
    assert all(abs(b - g) < 0.2 for b, g in zip(bad.weights, good.weights))
    rng = np.random.default_rng(81)
    flipped = []
    for t in range(40):
        fresh = _unit(centres[t] + 0.15 * rng.normal(size=DIM))
        top = f"e{t}" if t % 2 == 0 else f"e{(t + 1) % 40}"
        before = good.shift + np.dot(good.weights, memory.signals(fresh, top))
        after = bad.shift + np.dot(bad.weights, bad_memory.signals(fresh, top))
        if (before > 0) != (after > 0):
            flipped.append(t)
    assert set(flipped) <= {0}  # at most the topic staff got wrong


@pytest.fixture
def assistant(learning_assistant):
    return learning_assistant


def test_a_rejection_reaches_the_next_ask_without_restart_or_sync(assistant):
    first = assistant.ask("你们卖咖啡豆吗")
    before = assistant.gate
    assert assistant.gate is before  # nothing decided: the fitted gate is reused
    with Session(assistant.engine) as session:
        record_decision(session=session, knowledge=assistant.knowledge, draft_id=first.draft_id, status="rejected")
    after = assistant.gate
    assert after is not before  # a rejection leaves the index alone, yet the gate is fitted again
    if after.calibration is not None:
        assert after.calibration.decisions == 1
    # A label written by another process (its own engine on the same database) counts too.
    other = make_engine(assistant.settings)
    with Session(other) as session:
        record_label(session=session, text="有没有卖咖啡机", entry_id=None, decision="rejected")
        session.commit()
        assert labels_stamp(session=session)[0] == 2
    assert assistant.gate is not after
    # Moved from one entry to another there: no new row and the same counts, yet this process
    # re-fits too.
    with Session(other) as session:
        record_label(session=session, text="有没有卖咖啡机", entry_id="e1", decision="chosen")
        session.commit()
    moved = assistant.gate
    with Session(other) as session:
        record_label(session=session, text="有没有卖咖啡机", entry_id="e2", decision="chosen")
        session.commit()
    assert assistant.gate is not moved
    other.dispose()


def test_the_shops_gate_leans_on_a_memory_with_weights(assistant):
    kb = assistant.knowledge
    texts = ["你们卖咖啡豆吗", "有没有咖啡豆卖", "咖啡豆多少钱一斤"]
    vectors = kb.embedder.encode_queries(texts)
    memory = DecisionMemory.build(vectors, [None, None, None], encoder=kb.embedder)
    memory.weights = (0.0, -1.0)
    calibration = ShopCalibration(stamp="x", memory=memory)
    near = calibration.logit(0.0, "你们店卖不卖咖啡豆", "e1")
    far = calibration.logit(0.0, "能开发票吗", "e1")
    assert near < far <= 0.0 + CLIP


def test_the_memory_reuses_the_vector_retrieval_made_for_the_message(assistant, monkeypatch):
    # One embedding per message: retrieval's vector is the one the decision memory compares.
    kb = assistant.knowledge
    calls: list[list[str]] = []
    encode = kb.embedder.encode_queries

    def counted(texts):
        calls.append(list(texts))
        return encode(texts)

    monkeypatch.setattr(kb.embedder, "encode_queries", counted)
    query = "你们店卖不卖咖啡豆呀"
    kb.search(query)
    memory = DecisionMemory.build(encode(["你们卖咖啡豆吗"]), [None], encoder=kb.embedder)
    memory.weights = (0.0, -1.0)
    ShopCalibration(stamp="x", memory=memory).logit(0.0, query, "e1")
    assert calls == [[query]]
