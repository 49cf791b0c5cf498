"""`dianxiaoer check` JSON contract, batch mode, and `check train` round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.compliance.model import MODEL_FILENAME


@pytest.fixture()
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DIANXIAOER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return CliRunner()


def test_check_json_contract(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "本店最好的茶！！！", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["flagged", "score", "findings", "rewrite"]
    assert data["flagged"] is True
    assert data["findings"][0]["span"] == {"start": 2, "end": 4, "text": "最好"}
    assert data["findings"][0]["basis"] == "广告法第九条第三项"
    assert "最好" not in data["rewrite"]


def test_check_weibo_channel_option(runner: CliRunner) -> None:
    # Soft signals only (selling stacked with a phone number), about 42 points: between the
    # channels' thresholds. (Stacked urgency such as 「仅剩3件，手慢无，赶紧下单！！」 is flagged on both.)
    text = "新品上市，满200减20，详询13800001234，欢迎到店"
    wechat = json.loads(runner.invoke(cli, ["check", "--surface", "mass", text, "--json"]).output)
    weibo = json.loads(runner.invoke(cli, ["check", "--channel", "weibo", "--surface", "post", text, "--json"]).output)
    assert wechat["score"] == weibo["score"]
    assert wechat["flagged"] and not weibo["flagged"]  # weibo threshold is higher


def test_check_readable_report(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "喝了能降血压，欢迎品尝"])
    assert result.exit_code == 0
    for part in ("过度营销", "原因", "依据：广告法第十七条", "建议", "改写建议"):
        assert part in result.output


def test_check_batch_one_json_per_line_in_order(runner: CliRunner, tmp_path: Path) -> None:
    batch = tmp_path / "drafts.txt"
    batch.write_text("新茶到店，欢迎品尝\n全网最低价！！！\n第一次购买送试饮装\n", encoding="utf-8")
    result = runner.invoke(cli, ["check", "--batch", str(batch)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["flagged"] for r in rows] == [False, True, False]


def test_check_without_text_is_a_one_line_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--json"])
    assert result.exit_code == 1
    assert "Error" in result.output and "--batch" in result.output


def _write_tsv(path: Path) -> None:
    promo = ["全场一折起，手慢无，速来抢购", "最后一天，跳楼价清仓，赶紧下单", "限时秒杀，仅剩三件，错过再等一年",
             "爆款特价，买一送一，抢完即止", "清仓甩卖，全场五折，先到先得", "今日特惠，下单立减，名额有限"]
    fine = ["您的订单已发货，请注意查收", "您好，退款已原路退回", "门店周日正常营业",
            "新茶到了，欢迎来店里试饮", "这件衬衫有蓝色和白色两种", "快递明天上午送到，请保持电话畅通"]
    lines = ["# label<TAB>text"] + [f"1\t{t}" for t in promo] + [f"0\t{t}" for t in fine]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_train_round_trip(runner: CliRunner, tmp_path: Path) -> None:
    tsv = tmp_path / "labels.tsv"
    _write_tsv(tsv)
    before = json.loads(runner.invoke(cli, ["check", "门店周日正常营业", "--json"]).output)
    result = runner.invoke(cli, ["check", "train", "--data", str(tsv)])
    assert result.exit_code == 0, result.output
    model_file = tmp_path / "data" / MODEL_FILENAME
    assert model_file.exists()
    assert "已训练：12 条" in result.output
    after = json.loads(runner.invoke(cli, ["check", "全场特价，赶紧抢购，手慢无", "--json"]).output)
    assert after["flagged"] is True
    fine = json.loads(runner.invoke(cli, ["check", "门店周日正常营业", "--json"]).output)
    assert fine["flagged"] is False
    assert before["score"] == 0 and fine["score"] > 0  # the model now contributes to the score
    report = runner.invoke(cli, ["check", "全场特价，赶紧抢购，手慢无"]).output
    assert "自训练模型" in report
    no_model = json.loads(runner.invoke(cli, ["check", "门店周日正常营业", "--json", "--no-model"]).output)
    assert no_model["score"] == 0


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [("2\t这行标签不对", "标签必须是 0 或 1"), ("1 没有制表符", "缺少制表符"), ("1\t   ", "文本为空")],
)
def test_train_bad_line_names_file_and_line(runner: CliRunner, tmp_path: Path, bad_line: str, message: str) -> None:
    tsv = tmp_path / "labels.tsv"
    _write_tsv(tsv)
    lines = tsv.read_text(encoding="utf-8").splitlines()
    lines.insert(3, bad_line)  # becomes line 4
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["check", "train", "--data", str(tsv)])
    assert result.exit_code == 1
    assert f"{tsv}:4: {message}" in result.output
    assert not (tmp_path / "data" / MODEL_FILENAME).exists()


def test_train_needs_both_labels(runner: CliRunner, tmp_path: Path) -> None:
    tsv = tmp_path / "labels.tsv"
    tsv.write_text("1\t手慢无\n1\t跳楼价\n1\t秒杀\n", encoding="utf-8")
    result = runner.invoke(cli, ["check", "train", "--data", str(tsv)])
    assert result.exit_code == 1
    assert "0 条 0" in result.output


def test_corrupt_model_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    model_file = tmp_path / "data" / MODEL_FILENAME
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"not a model")
    result = runner.invoke(cli, ["check", "你好", "--json"])
    assert result.exit_code == 1
    assert "check train" in result.output


def test_check_a_service_message_against_what_the_customer_wrote(runner: CliRunner) -> None:
    text = "新茶到货，满200减20，3月20日前有效"
    plain = json.loads(runner.invoke(cli, ["check", text, "--json"]).output)
    assert not plain["flagged"]  # the conversation is unknown: nothing to hold it to
    held = json.loads(runner.invoke(cli, ["check", text, "--reply-to", "普洱茶饼怎么保存？", "--json"]).output)
    assert held["flagged"] and "channel.unrelated_promotion" in {f["rule"] for f in held["findings"]}
    answered = json.loads(runner.invoke(cli, ["check", text, "--reply-to", "新茶什么时候到货？", "--json"]).output)
    assert not answered["flagged"]
