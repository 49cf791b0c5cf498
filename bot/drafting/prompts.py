"""Prompt templates live as files in prompts/, reviewed like code, loaded through one function."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import ConfigError


@dataclass(frozen=True)
class Prompt:
    name: str
    system: str
    user: str
    variables: tuple[str, ...]

    def render(self, **values: str) -> tuple[str, str]:
        """Return (system, user) with every declared variable filled; a missing one is an error."""
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise ConfigError(f"提示词 {self.name} 缺少变量：{', '.join(missing)}")
        safe = {k: str(v) for k, v in values.items()}
        return self.system.format_map(safe), self.user.format_map(safe)


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def load_prompt(directory: Path, name: str) -> Prompt:
    path = directory / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"找不到提示词文件：{path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"提示词文件 {path} 不是有效的 YAML：{exc}") from exc
    if not isinstance(data, dict) or not {"system", "user", "variables"} <= data.keys():
        raise ConfigError(f"提示词文件 {path} 需要 system、user 和 variables 三个键")
    prompt = Prompt(name, data["system"], data["user"], tuple(data["variables"]))
    undeclared = (_placeholders(prompt.system) | _placeholders(prompt.user)) - set(prompt.variables)
    if undeclared:
        raise ConfigError(f"提示词文件 {path} 用了未声明的变量：{', '.join(sorted(undeclared))}")
    return prompt


_TAG = re.compile(r"</?\s*(faq|history|customer_message)\s*>", re.IGNORECASE)


def neutralise(customer_text: str) -> str:
    """Stop customer text from closing our delimiters and posing as instructions."""
    return _TAG.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), customer_text)
