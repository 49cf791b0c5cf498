"""Check the store against itself and the files, and put right what a crash or a race left.

What must hold for every committed entry (one whose question vector is stored): all its
phrasing vectors are there, with its hash and no surplus; its passage vector is there with
its hash; and, checked only on request because it reads every vector, Chroma can return each
record's embedding and a search with a phrasing's own embedding finds it. Vectors and passages
of no committed entry are leftovers of a sync that died before committing them.

A sync runs the cheap part every time (vector counts against the entries' expected counts,
reading nothing but two numbers) and the metadata check only when the counts disagree;
`dianxiaoer index --check` runs all of it and changes nothing, `--repair` also fixes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.knowledge.entries import Entry
from bot.knowledge.store import StoredEntry, VectorStore


@dataclass
class Diagnosis:
    problems: list[str] = field(default_factory=list)  # one line each, for people
    rewrite: set[str] = field(default_factory=set)  # committed entries to write again
    leftovers: list[str] = field(default_factory=list)  # phrasing vectors of no committed entry
    leftover_passages: list[str] = field(default_factory=list)
    without_embeddings: set[str] = field(default_factory=set)  # phrasing vector ids
    passages_without_embeddings: set[str] = field(default_factory=set)
    unreachable: list[str] = field(default_factory=list)  # phrasing vectors search cannot find

    @property
    def ok(self) -> bool:
        return not self.problems


def expected_vectors(
    stored: Mapping[str, StoredEntry], entries: Mapping[str, Entry]
) -> int | None:
    """How many phrasing vectors the committed entries should have, or None if not known
    (entries written by an older version without a count, whose file cannot be read now)."""
    total = 0
    for entry_id, record in stored.items():
        entry = entries.get(entry_id)
        if entry is not None and entry.content_hash == record.hash:
            total += len(entry.phrasings) if entry.kind == "faq" else 1
        elif record.vectors is not None:
            total += record.vectors
        else:
            return None
    return total


def counts_agree(store: VectorStore, stored: Mapping[str, StoredEntry], entries: Mapping[str, Entry]) -> bool:
    """The cheap check a sync runs every time: two counts against what the entries need."""
    expected = expected_vectors(stored, entries)
    # Phrasings staff taught are more vectors of their entries, counted apart (learned_phrasings.py).
    if expected is not None and store.count() - store.learned_count() != expected:
        return False
    return store.passage_count() == len(stored)


def diagnose(store: VectorStore, entries: Mapping[str, Entry], *, embeddings: bool) -> Diagnosis:
    """Find every committed entry whose vectors are incomplete, stale or surplus, and leftovers."""
    result = Diagnosis()
    ids, metas, passage_ids, passage_hashes = store.vector_metadata()
    heads = {str(m["entry_id"]): m for m in metas if m.get("phrasing") == 0 and "entry_id" in m}
    have: dict[str, dict[int, str]] = {entry_id: {} for entry_id in heads}
    for vector_id, meta in zip(ids, metas):
        entry_id, _, suffix = vector_id.rpartition(":")
        if entry_id not in heads:
            result.leftovers.append(vector_id)
        elif suffix.isdigit():  # other suffixes belong to vectors this module does not write
            have[entry_id][int(suffix)] = str(meta.get("hash", ""))
    passages = dict(zip(passage_ids, passage_hashes))
    result.leftover_passages = [p for p in passage_ids if p not in heads]

    def report(entry_id: str, what: str) -> None:
        head = heads[entry_id]
        result.problems.append(f"{head.get('source')}:{head.get('line')}「{head.get('question')}」{what}")
        result.rewrite.add(entry_id)

    for entry_id, head in heads.items():
        want = str(head.get("hash", ""))
        entry = entries.get(entry_id)
        count = head.get("phrasings")
        if not isinstance(count, int):
            count = (len(entry.phrasings) if entry.kind == "faq" else 1) if entry is not None else None
        vectors = have[entry_id]
        if count is not None:
            missing = [n for n in range(count) if n not in vectors]
            surplus = sorted(n for n in vectors if n >= count)
            if missing:
                report(entry_id, f"缺少 {len(missing)} 个相似问法向量（第 {', '.join(map(str, missing))} 个）")
            if surplus:
                report(entry_id, f"多出 {len(surplus)} 个已删除问法的向量")
        if any(h != want for h in vectors.values()):
            report(entry_id, "有向量还是旧内容")
        if entry_id not in passages:
            report(entry_id, "缺少问答段落向量")
        elif passages[entry_id] != want:
            report(entry_id, "问答段落向量还是旧内容或旧格式（没有答案分句向量；同步会补上）")
    if result.leftovers or result.leftover_passages:
        result.problems.append(
            f"{len(result.leftovers)} 个向量和 {len(result.leftover_passages)} 个段落向量不属于任何已同步条目"
            "（上次同步中途停止的残留）"
        )
    if embeddings:
        result.without_embeddings = set(store.without_embeddings())
        result.passages_without_embeddings = set(store.without_embeddings(passages=True))
        for vector_id in sorted(result.without_embeddings):
            entry_id = vector_id.rpartition(":")[0]
            if entry_id in heads:
                report(entry_id, f"向量 {vector_id} 没有嵌入（Chroma 读不出）")
        for entry_id in sorted(result.passages_without_embeddings):
            if entry_id in heads:
                report(entry_id, "问答段落向量没有嵌入（Chroma 读不出）")
        stray = [v for v in result.without_embeddings if v.rpartition(":")[0] not in heads]
        if stray:
            result.problems.append(f"{len(stray)} 个残留向量没有嵌入")
        readable = [v for v in ids if v not in result.without_embeddings]
        result.unreachable = store.unreachable(readable)
        if result.unreachable:
            result.problems.append(
                f"{len(result.unreachable)} 个问法向量在 Chroma 的检索图里找不到（用它自己的向量也搜不出）："
                + "、".join(result.unreachable[:5])
            )
    return result


def repair(
    store: VectorStore,
    diagnosis: Diagnosis,
    entries: Mapping[str, Entry],
    progress: Callable[[int], None] | None = None,
) -> tuple[list[str], list[str]]:
    """Fix what `diagnose` found; returns (what was done, what could not be fixed)."""
    done: list[str] = []
    if diagnosis.without_embeddings or diagnosis.passages_without_embeddings:
        # Records without an embedding cannot be deleted in place: copy the rest over.
        store.rebuild_collections(diagnosis.without_embeddings, diagnosis.passages_without_embeddings)
        done.append(
            f"重建了向量集合，去掉 {len(diagnosis.without_embeddings) + len(diagnosis.passages_without_embeddings)}"
            " 条没有嵌入的记录"
        )
    leftovers = [v for v in diagnosis.leftovers if v not in diagnosis.without_embeddings]
    leftover_passages = [p for p in diagnosis.leftover_passages if p not in diagnosis.passages_without_embeddings]
    if leftovers or leftover_passages:
        store.delete_vectors(leftovers, leftover_passages)
        done.append(f"删除了 {len(leftovers) + len(leftover_passages)} 个残留向量")
    rewrite = [entries[e] for e in sorted(diagnosis.rewrite) if e in entries]
    if rewrite:
        store.upsert(rewrite, progress)
        done.append(f"重新写入了 {len(rewrite)} 个条目的全部向量")
    if diagnosis.unreachable:
        store.rebuild_phrasings()
        done.append(f"重建了问法向量的检索图（{len(diagnosis.unreachable)} 个向量原先搜不到）")
    unfixable = [
        f"条目 {e} 的文件现在读不了，无法重新写入；修好文件后再运行 dianxiaoer index --repair"
        for e in sorted(diagnosis.rewrite - entries.keys())
    ]
    return done, unfixable
