"""The chat model behind LLM drafting, chosen by `LLM_PROVIDER` through one factory.

"openai" means any OpenAI-compatible endpoint (DeepSeek, Qwen's compatible mode, vLLM, ...);
"fake" replies with queued texts, for tests. The API key is handed to the client as a
`SecretStr` and never logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from bot.config import Settings
from bot.errors import ConfigError

# Low but not zero: replies should stay close to the FAQ's wording, yet not read like a form.
TEMPERATURE = 0.2


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """Build the configured chat model; None means the deterministic composer drafts alone."""
    match settings.llm_provider:
        case "none":
            return None
        case "openai":
            from langchain_openai import ChatOpenAI

            if not settings.llm_base_url:
                raise ConfigError(
                    "DIANXIAOER_LLM_BASE_URL 未设置（OpenAI 兼容接口的地址，如 https://api.deepseek.com/v1）"
                )
            if settings.llm_api_key is None:
                raise ConfigError(
                    "DIANXIAOER_LLM_API_KEY 未设置（本地服务不校验密钥时，填任意值即可）"
                )
            return ChatOpenAI(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key,
                timeout=settings.llm_timeout,
                max_retries=1,  # a second try at most, so staff wait at most about 2 × LLM_TIMEOUT
                temperature=TEMPERATURE,
            )
        case "ollama":
            from langchain_ollama import ChatOllama

            kwargs: dict[str, Any] = {
                "model": settings.llm_model,
                "temperature": TEMPERATURE,
                "client_kwargs": {"timeout": settings.llm_timeout},
            }
            if settings.llm_base_url:
                kwargs["base_url"] = settings.llm_base_url
            return ChatOllama(**kwargs)
        case "fake":
            return FakeChatModel()
        case other:
            raise ConfigError(
                f"DIANXIAOER_LLM_PROVIDER 不支持：{other}（可选 none、openai、ollama、fake）"
            )


class FakeChatModel(BaseChatModel):
    """A chat model that replies with queued texts and remembers what it was sent.

    `enqueue("reply")` queues a reply; `enqueue(TimeoutError())` makes that call raise.
    """

    replies: list[str | Exception] = Field(default_factory=list)
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "dianxiaoer-fake"

    def enqueue(self, *replies: str | Exception) -> FakeChatModel:
        self.replies.extend(replies)
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: Iterable[str] | None = None,
        run_manager: Any = None,
        **_: Any,
    ) -> ChatResult:
        self.seen.append(list(messages))
        if not self.replies:
            raise RuntimeError("FakeChatModel has no queued reply")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])
