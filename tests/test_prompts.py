"""Prompt files: every one loads and renders with exactly its declared variables."""

from pathlib import Path

import pytest

from bot.config import REPO_ROOT, Settings
from bot.drafting.prompts import load_prompt
from bot.errors import ConfigError

PROMPT_FILES = sorted((REPO_ROOT / "prompts").glob("*.yaml"))


def test_there_are_prompt_files():
    assert "reply" in [p.stem for p in PROMPT_FILES]


@pytest.mark.parametrize("path", PROMPT_FILES, ids=lambda p: p.stem)
def test_every_prompt_loads_and_renders_its_variables(path):
    prompt = load_prompt(path.parent, path.stem)
    assert prompt.variables and prompt.system.strip() and prompt.user.strip()
    values = {name: f"«{name}-value»" for name in prompt.variables}
    system, user = prompt.render(**values)
    for name, value in values.items():
        assert value in system + user, name
    assert "{" not in system + user and "}" not in system + user
    with pytest.raises(ConfigError, match=prompt.variables[0]):
        prompt.render(**{k: v for k, v in values.items() if k != prompt.variables[0]})
    with pytest.raises(ConfigError, match="typo"):
        prompt.render(**values, typo="x")


def test_values_are_not_formatted_again():
    prompt = load_prompt(Settings(), "reply")  # from settings.prompts_dir
    _, user = prompt.render(
        shop_name="茶小铺", passages="{x}", history="", question="{shop_name} {0}"
    )
    assert "{shop_name} {0}" in user and "{x}" in user


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "text,message",
    [
        ("variables: [a]\nsystem: '{a} {b}'\nuser: u", "未声明的变量：b"),
        ("variables: [a, b]\nsystem: '{a}'\nuser: u", "没用的变量：b"),
        ("variables: [a]\nsystem: '{a}'\n", "三个键"),
        ("variables: a\nsystem: '{a}'\nuser: u", "名字列表"),
        ("variables: [a]\nsystem: '{a} {'\nuser: u", "花括号"),
        ("variables: [a\nsystem: x", "不是有效的 YAML"),
    ],
)
def test_broken_prompt_files_are_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_prompt(write(tmp_path, text), "p")


def test_missing_prompt_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_prompt(tmp_path, "nope")
