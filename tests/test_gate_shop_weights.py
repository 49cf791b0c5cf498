"""A shop's own feature weights, re-fitted on its staff decisions around the shared ones: with a
few decisions the shared model stands, with many the shop's own counts; the sign bounds hold; the moves
reorder the shop's messages without moving its level; the decisions' features survive a new
process through the decision cache."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session

from bot.drafting import calibration as cal
from bot.drafting.calibration import Example, ShopCalibration, fit_decisions
from bot.drafting.gate import FEATURES, MORE_IS_BETTER, MORE_IS_WORSE, Gate, Prior
from bot.memory.learned import labelled_questions, record_label

SHARED = Gate(
    weights={"dense": 20.0, "passage": 10.0, "topic": 0.0, "novel": 0.0, "query_len": 0.0},
    bias=-27.0, threshold=0.5, prior=Prior(version="test"),
    feature_scale={f: 0.03 if f in ("dense", "passage") else 0.3 for f in FEATURES},
)


def _decisions(n: int, seed: int, *, says: str, sign: float = 1.0) -> list[Example]:
    """Decisions of a shop where the feature `says` tells answerable messages from the rest
    (with `sign` −1 the other way round) and the shared score is noise around its boundary. A
    feature moves by its spread over the shared fit's rows (`feature_scale`), as real ones do."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        values = {f: 0.0 for f in FEATURES}
        values["dense"] = 0.9 + 0.03 * rng.normal()
        values["passage"] = 0.9 + 0.03 * rng.normal()
        values["query_len"] = rng.uniform(0.2, 1.0)
        label = int(rng.random() < 0.5)
        strong = label if sign > 0 else 1 - label
        if says in ("dense", "passage"):
            values[says] += SHARED.feature_scale[says] * (1.0 if strong else -1.0)
        else:
            values[says] = float(rng.random() < (0.85 if strong else 0.15))
        score = SHARED.bias + sum(SHARED.weights.get(f, 0.0) * values[f] for f in FEATURES)
        out.append(Example(score, label, values=tuple(values[f] for f in FEATURES)))
    return out


def _accuracy(fitted, decisions: list[Example]) -> float:
    shop = ShopCalibration(stamp="x", shift=fitted.shift, scale=fitted.scale, moves=fitted.moves, centre=fitted.centre)
    right = [(shop.logit(d.score, values=dict(zip(FEATURES, d.values))) > 0) == bool(d.label) for d in decisions]
    return float(np.mean(right))


def test_few_decisions_leave_the_shared_weights_and_many_make_the_shops_own():
    fresh = _decisions(2000, 99, says="topic")
    few = fit_decisions(ShopCalibration(stamp="x"), _decisions(30, 1, says="topic"), None, shared=SHARED)
    many = fit_decisions(ShopCalibration(stamp="x"), _decisions(1000, 2, says="topic"), None, shared=SHARED)
    assert 0.0 <= few.moves["topic"] < 0.3
    assert many.moves["topic"] > 0.8  # topic speaks for answering in this shop: the shop learns it
    without = fit_decisions(ShopCalibration(stamp="x"), _decisions(1000, 2, says="topic"), None)  # scale and shift only
    assert without.moves == {}
    assert _accuracy(many, fresh) > _accuracy(without, fresh) + 0.15
    assert _accuracy(few, fresh) < _accuracy(many, fresh)


def test_the_shops_weights_keep_the_sign_bounds():
    # In this shop a closer passage goes with rejections, and words the FAQ never uses with
    # approvals: what the question sets' writing habit teaches, not what a customer needs.
    against = fit_decisions(ShopCalibration(stamp="x"), _decisions(1000, 3, says="passage", sign=-1.0), None,
                            shared=SHARED)
    assert "passage" in MORE_IS_BETTER
    assert against.scale * SHARED.weights["passage"] + against.moves["passage"] == pytest.approx(0.0, abs=1e-6)
    assert against.scale < 2.0 and all(abs(m) < 50.0 for m in against.moves.values())
    novel = fit_decisions(ShopCalibration(stamp="x"), _decisions(1000, 4, says="novel"), None, shared=SHARED)
    assert "novel" in MORE_IS_WORSE
    assert novel.scale * SHARED.weights["novel"] + novel.moves["novel"] <= 1e-9


def test_the_moves_reorder_the_shops_messages_and_leave_its_level():
    decisions = _decisions(400, 5, says="topic")
    fitted = fit_decisions(ShopCalibration(stamp="x"), decisions, None, shared=SHARED)
    # Centred at the decisions' mean: over the decisions the moves add nothing on average.
    lean = [sum(w * (d.values[FEATURES.index(f)] - fitted.centre[f]) for f, w in fitted.moves.items())
            for d in decisions]
    assert abs(float(np.mean(lean))) < 1e-6
    # A feature that never varies in these decisions is not moved (nothing to learn from).
    assert "coverage" not in fitted.moves
    # A message without its features (an explain line, an old caller) gets the scale alone.
    shop = ShopCalibration(stamp="x", shift=fitted.shift, scale=fitted.scale, moves=fitted.moves, centre=fitted.centre)
    assert shop.logit(1.0) == pytest.approx(fitted.scale + fitted.shift)


def test_one_wrong_decision_barely_moves_the_shops_weights():
    decisions = _decisions(120, 7, says="topic")
    good = fit_decisions(ShopCalibration(stamp="x"), decisions, None, shared=SHARED)
    # Staff err once, on the strongest kind of message: topic present, yet rejected.
    strongest = max(decisions, key=lambda d: (d.values[FEATURES.index("topic")], d.score))
    bad = fit_decisions(ShopCalibration(stamp="x"), [*decisions, Example(strongest.score, 0, values=strongest.values)],
                        None, shared=SHARED)
    assert abs(bad.shift - good.shift) < 0.1 and abs(bad.scale - good.scale) < 0.1
    for f, m in good.moves.items():
        assert abs(bad.moves[f] - m) * SHARED.feature_scale[f] < 0.05  # in logits per spread of f
    fresh = _decisions(1000, 70, says="topic")
    assert abs(_accuracy(bad, fresh) - _accuracy(good, fresh)) < 0.02


def test_decisions_without_features_refit_scale_and_shift_only():
    decisions = [Example(d.score, d.label) for d in _decisions(200, 6, says="topic")]
    fitted = fit_decisions(ShopCalibration(stamp="x"), decisions, None, shared=SHARED)
    assert fitted.moves == {} and fitted.centre == {}


@pytest.fixture
def kb(learning_assistant):
    learning_assistant.knowledge.sync()
    return learning_assistant.knowledge


def test_the_decisions_features_are_kept_for_a_new_process(kb, learning_assistant, monkeypatch):
    from bot.drafting.gate import default_gate

    entry = next(iter(kb.lexical.entries))
    with Session(learning_assistant.engine) as session:
        record_label(session=session, text="你们卖咖啡豆吗", entry_id=None, decision="rejected")
        record_label(session=session, text="有没有卖咖啡机", entry_id=None, decision="rejected")
        record_label(session=session, text="多久能发货呀", entry_id=entry, decision="chosen")
        record_label(session=session, text="什么时候发货", entry_id=entry, decision="chosen")
        session.commit()
        decisions = labelled_questions(session=session)
    gate = default_gate()
    cal._decision_cache.clear()
    examples, _ = cal.decision_memory(kb, gate, decisions)
    assert examples and all(e.values is not None and len(e.values) == len(FEATURES) for e in examples)
    shop = cal.shop_gate(kb, gate, decisions)
    assert shop.calibration is not None and set(shop.calibration.moves) <= set(FEATURES)
    # A new process reads them from the cache beside the calibration: no search again.
    cal._decision_cache.clear()

    def no_search(*args, **kwargs):
        raise AssertionError("a decision was searched again although its features were cached")

    monkeypatch.setattr(cal.FaqMemory, "search", no_search)
    again, _ = cal.decision_memory(kb, gate, decisions)
    assert [e.values for e in again] == [e.values for e in examples]
