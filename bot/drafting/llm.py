"""The chat model behind LLM drafting, chosen by `LLM_PROVIDER` through one factory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.language_models import BaseChatModel

from bot.config import Settings
from bot.errors import ConfigError


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """Build the configured chat model; None means the deterministic composer drafts alone."""
    match settings.llm_provider:
        case "none":
            return None
        case "openai":
            from langchain_openai import ChatOpenAI

            if not settings.llm_base_url:
                raise ConfigError("DIANXIAOER_LLM_BASE_URL 未设置（OpenAI 兼容接口的地址，如 DeepSeek、通义千问、vLLM）")
            if settings.llm_api_key is None:
                raise ConfigError("DIANXIAOER_LLM_API_KEY 未设置")
            return ChatOpenAI(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key,
                timeout=settings.llm_timeout,
                max_retries=1,
                temperature=0.2,
            )
        case "ollama":
            from langchain_ollama import ChatOllama

            kwargs: dict[str, Any] = {"model": settings.llm_model, "temperature": 0.2}
            if settings.llm_base_url:
                kwargs["base_url"] = settings.llm_base_url
            return ChatOllama(**kwargs)
        case "fake":
            return FakeChatModel()


class FakeChatModel(BaseChatModel):
    """A chat model that replies with queued texts, for tests (`enqueue` then invoke)."""

    replies: list[str] = []
    seen: list[list[Any]] = []

    @property
    def _llm_type(self) -> str:
        return "dianxiaoer-fake"

    def enqueue(self, *replies: str) -> FakeChatModel:
        self.replies.extend(replies)
        return self

    def _generate(self, messages: list[Any], stop: Iterable[str] | None = None, run_manager: Any = None, **_: Any) -> Any:
        from langchain_core.messages import AIMessage
        from langchain_core.outputs import ChatGeneration, ChatResult

        self.seen.append(list(messages))
        if not self.replies:
            raise RuntimeError("FakeChatModel has no queued reply")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.replies.pop(0)))])
