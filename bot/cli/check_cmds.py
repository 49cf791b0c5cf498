"""`dianxiaoer check TEXT` and `dianxiaoer check train --data FILE.tsv`.

The JSON printed by `check --json` / `check --batch` is a contract for outside scripts:
one object per text, exactly {"flagged", "score", "findings": [...], "rewrite"}.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli import cli
from bot.compliance.checker import SURFACE_LABELS, CheckResult, check_text
from bot.compliance.model import evaluate, load_model, model_path, read_labelled_tsv, save_model, train
from bot.compliance.rules import CATEGORY_LABELS
from bot.config import load_settings
from bot.errors import DianxiaoerError
from bot.textio import printable, read_batch_lines, safe_json

SEVERITY_LABELS = {"high": "高", "medium": "中", "low": "低"}


class _CheckGroup(click.Group):
    """`check TEXT …` runs the checker; `check train …` trains. Anything that is not a
    subcommand name goes to the hidden `text` command, so both spellings work."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands and args[0] != "text":
            return super().parse_args(ctx, args)
        if not args:
            args = ["--help"]
        return super().parse_args(ctx, ["text", *args])


@cli.group(cls=_CheckGroup)
def check() -> None:
    """Check a draft for overly promotional wording: `check TEXT` or `check train --data FILE.tsv`."""


@check.command("text")
@click.argument("text", required=False)
@click.option("--channel", type=click.Choice(["wechat", "weibo"]), default="wechat", show_default=True)
@click.option(
    "--surface",
    default=None,
    help="Where the message goes: wechat mass|customer_service|template|moments, weibo post|dm "
    "(default: customer_service / dm, the strictest: no marketing at all).",
)
@click.option("--threshold", type=click.IntRange(0, 100), default=None, help="Override the channel threshold.")
@click.option("--json", "as_json", is_flag=True, help="Print {flagged, score, findings, rewrite} as JSON.")
@click.option(
    "--batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Check every line of FILE ('-' not supported); prints one JSON object per line.",
)
@click.option("--no-model", is_flag=True, help="Ignore a trained model; rules only.")
@click.option(
    "--reply-to", "reply_to", multiple=True,
    help="What the customer wrote (repeatable): a 客服消息/私信 that only sells something else is flagged.",
)
def check_text_cmd(
    text: str | None, channel: str, surface: str | None, threshold: int | None, as_json: bool,
    batch: Path | None, no_model: bool, reply_to: tuple[str, ...],
) -> None:
    """Check TEXT (or every line of --batch FILE) and suggest a compliant rewrite.

    To fit the checker on your own labels: dianxiaoer check train --data FILE.tsv
    """
    if (text is None) == (batch is None):
        raise DianxiaoerError("请给出要检查的文本，或用 --batch FILE 指定文件（二选一）")
    settings = load_settings()
    model = None if no_model else load_model(model_path(settings))

    def run(one: str) -> CheckResult:
        return check_text(one, channel=channel, surface=surface, threshold=threshold,  # type: ignore[arg-type]
                          model=model, settings=settings, replying_to=list(reply_to) or None)

    if batch is not None:
        for number, line in enumerate(read_batch_lines(batch), start=1):
            result = run(line)
            if result.note:
                click.echo(printable(f"{batch}:{number}: {result.note}"), err=True)
            click.echo(safe_json(json.dumps(result.as_json(), ensure_ascii=False)))
        return
    assert text is not None
    result = run(text)
    if result.note:
        click.echo(result.note, err=True)
    if as_json:
        click.echo(safe_json(json.dumps(result.as_json(), ensure_ascii=False)))
    else:
        _print_report(result)


def _print_report(result: CheckResult) -> None:
    # Spans and the rewrite are the user's own text: pasted copy may carry escape sequences.
    surface = SURFACE_LABELS.get(result.surface, result.surface)
    verdict = "过度营销，建议修改后再发" if result.flagged else "可以发送"
    click.echo(f"结论：{verdict}（得分 {result.score}，{result.channel}·{surface} 阈值 {result.threshold}）")
    if result.model_probability is not None:
        click.echo(f"  规则得分 {result.rule_score}，自训练模型判为过度营销的概率 {result.model_probability:.2f}")
    for i, f in enumerate(result.findings, start=1):
        category = CATEGORY_LABELS.get(f.category, f.category)
        click.echo(f"{i}. 「{printable(f.span.text)}」 {category}（严重程度：{SEVERITY_LABELS[f.severity]}）")
        click.echo(f"   原因：{f.reason}")
        click.echo(f"   依据：{f.basis}")
        click.echo(f"   建议：{f.suggestion}")
    if not result.findings:
        click.echo("没有发现问题。")
    elif result.rewrite:
        click.echo(f"改写建议：{printable(result.rewrite)}")
    else:
        click.echo("改写建议：整条内容都不宜发送，建议换一种方式与客户沟通。")


@check.command("train")
@click.option(
    "--data", "data", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="TSV file: label<TAB>text per line, 1 = overly promotional, 0 = fine.",
)
def check_train(data: Path) -> None:
    """Fit the checker on your own labelled messages; `check` uses it from then on."""
    settings = load_settings()
    examples = read_labelled_tsv(data)
    model = train(examples)
    path = save_model(model, model_path(settings))
    accuracy = evaluate(model, examples)
    click.echo(
        f"已训练：{model.trained_on} 条（过度营销 {model.positives} 条），训练集准确率 {accuracy:.1%}，"
        f"模型保存在 {path}"
    )
    if model.trained_on < 50:
        click.echo("提示：样本少于 50 条时模型很不稳定，建议继续补充标注。", err=True)


