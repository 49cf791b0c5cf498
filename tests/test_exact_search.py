"""A FAQ of ordinary size is searched exactly, in memory: the same in every process, whatever
Chroma's approximate graph passes by."""

from __future__ import annotations

import numpy as np

from bot.knowledge import retrieve
from bot.knowledge.retrieve import FusionWeights, dense_ranking, exact_vectors
from tests.test_unreachable_vectors import graphs_pass_by, shop


def test_a_vector_the_graph_passes_by_is_still_found(tmp_path, e5, monkeypatch):
    kb = shop(tmp_path, e5, None)
    kb.sync()
    hidden = next(d.vector_id for d in kb.lexical.docs if d.text == "怎么开票")
    graphs_pass_by(monkeypatch, hidden, lambda collection: True)
    vector = kb.embedder.embed_query("怎么开票")
    found = dense_ranking(kb.store, kb.lexical, vector, FusionWeights().candidates)
    assert found[0][0] == kb.lexical.by_vector[hidden].entry_id and found[0][2] == "怎么开票"
    # Through Chroma (a FAQ over the limit) the same search misses it: the check can fail.
    monkeypatch.setattr(retrieve, "EXACT_LIMIT", 0)
    through_chroma = dense_ranking(kb.store, kb.lexical, vector, FusionWeights().candidates)
    assert all(text != "怎么开票" for _, _, text in through_chroma)


def test_exact_scores_are_chromas_cosines_and_each_loaded_index_reads_its_own_vectors(tmp_path, e5, monkeypatch):
    kb = shop(tmp_path, e5, None)
    kb.sync()
    vector = kb.embedder.embed_query("运费怎么算")
    exact = dense_ranking(kb.store, kb.lexical, vector, 10)
    monkeypatch.setattr(retrieve, "EXACT_LIMIT", 0)
    approximate = dense_ranking(kb.store, kb.lexical, vector, 10)
    assert [e for e, _, _ in exact] == [e for e, _, _ in approximate]
    assert np.allclose([s for _, s, _ in exact], [s for _, s, _ in approximate], atol=1e-4)
    monkeypatch.undo()
    before = exact_vectors(kb.store, kb.lexical)
    assert before is not None and before.shape == (len(kb.lexical.docs), 384)
    entry = kb.lexical.docs[0].entry_id
    kb.add_learned({f"{entry}:L1": (entry, "请问寄到新疆要多少运费")})
    after = exact_vectors(kb.store, kb.lexical)  # a new index: its vectors read again, the taught one too
    assert after.shape == (len(kb.lexical.docs), 384) and len(kb.lexical.docs) == len(before) + 1


def _fresh_read(kb) -> np.ndarray:  # type: ignore[no-untyped-def]
    stored = kb.store.embeddings([d.vector_id for d in kb.lexical.docs])
    matrix = np.stack([stored[d.vector_id] for d in kb.lexical.docs])
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_a_decision_carries_the_matrix_over_and_reads_only_the_taught_vector(tmp_path, e5, monkeypatch):
    kb = shop(tmp_path, e5, None)
    kb.sync()
    exact_vectors(kb.store, kb.lexical)  # the index in use has been searched
    entry = kb.lexical.docs[0].entry_id
    read: list[int] = []
    original = type(kb.store).embeddings
    monkeypatch.setattr(type(kb.store), "embeddings", lambda self, ids: read.append(len(ids)) or original(self, ids))
    kb.add_learned({f"{entry}:L1": (entry, "请问寄到新疆要多少运费")})
    assert read == [1]
    carried = exact_vectors(kb.store, kb.lexical)
    assert read == [1]  # the search read nothing more
    assert np.allclose(carried, _fresh_read(kb), atol=1e-6)
    # Taught again under the same id with other words: that row is read anew, not carried.
    kb.add_learned({f"{entry}:L1": (entry, "发票抬头能写公司吗")})
    assert np.allclose(exact_vectors(kb.store, kb.lexical), _fresh_read(kb), atol=1e-6)
    kb.remove_learned([f"{entry}:L1"])
    assert np.allclose(exact_vectors(kb.store, kb.lexical), _fresh_read(kb), atol=1e-6)
    assert not any(d.learned for d in kb.lexical.docs)
