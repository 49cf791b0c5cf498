"""Prompt templates live as files in prompts/, reviewed like code, loaded through one function.

A prompt file is YAML with `variables` (the names it needs), `system` and `user`. Templates use
`str.format` fields (`{question}`); a literal brace is written `{{`. Every declared variable must
be given when rendering and no other, so a renamed variable fails loudly instead of leaving
a `{placeholder}` in front of the model.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import Settings
from bot.errors import ConfigError


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user: str
    variables: tuple[str, ...]

    def render(self, **values: object) -> tuple[str, str]:
        """Return (system, user) with every declared variable filled in; any other is an error."""
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise ConfigError(f"提示词 {self.name} 缺少变量：{', '.join(missing)}")
        unknown = sorted(set(values) - set(self.variables))
        if unknown:
            raise ConfigError(f"提示词 {self.name} 没有声明这些变量：{', '.join(unknown)}")
        safe = {k: str(v) for k, v in values.items()}
        return self.system.format_map(safe), self.user.format_map(safe)


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def load_prompt(where: Settings | Path | str, name: str) -> Prompt:
    """Load prompts/<name>.yaml from `settings.prompts_dir` or a directory."""
    directory = where.prompts_dir if isinstance(where, Settings) else Path(where)
    path = directory / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"找不到提示词文件：{path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"提示词文件 {path} 不是有效的 YAML：{exc}") from exc
    if not isinstance(data, dict) or not {"system", "user", "variables"} <= data.keys():
        raise ConfigError(f"提示词文件 {path} 需要 system、user 和 variables 三个键")
    if not isinstance(data["variables"], list) or not all(
        isinstance(v, str) for v in data["variables"]
    ):
        raise ConfigError(f"提示词文件 {path} 的 variables 应是名字列表")
    prompt = Prompt(name, str(data["system"]), str(data["user"]), tuple(data["variables"]))
    try:
        used = _placeholders(prompt.system) | _placeholders(prompt.user)
    except ValueError as exc:  # e.g. a single "{" that should have been "{{"
        raise ConfigError(
            f"提示词文件 {path} 的花括号不成对（字面的花括号写作 {{{{ 和 }}}}）：{exc}"
        ) from exc
    if undeclared := used - set(prompt.variables):
        raise ConfigError(f"提示词文件 {path} 用了未声明的变量：{', '.join(sorted(undeclared))}")
    if unused := set(prompt.variables) - used:
        raise ConfigError(f"提示词文件 {path} 声明了却没用的变量：{', '.join(sorted(unused))}")
    return prompt


# Our delimiters, and look-alikes a model might read as them: full-width or angle-quote
# brackets, spaces or dashes inside the name, any case.
_TAG = re.compile(
    r"[<＜﹤‹〈《«]\s*/?\s*(faq|history|customer[\s_\-]*message|system|instructions?)\s*/?\s*[>＞﹥›〉》»]",
    re.IGNORECASE,
)


def neutralise(text: str) -> str:
    """Stop untrusted text from closing our delimiters and posing as instructions.

    Invisible format characters (zero-width spaces and the like) are dropped first, so they
    cannot hide a tag; each tag left is then written with round brackets, which no
    delimiter uses.
    """
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _TAG.sub(lambda m: f"({m.group(0)[1:-1].strip()})", visible)
