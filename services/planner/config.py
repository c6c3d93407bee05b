"""Planner settings: where flows and prompts come from, and how the model tiers are reached."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.runtime.settings import ServiceSettings

PACKS_DIR = Path(__file__).resolve().parents[2] / "packs"
PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


class ModelSettings(BaseModel):
    """The OpenAI-compatible endpoint and the two tiers.

    ``base_url`` and ``api_key`` fall back to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``. With
    neither set anywhere no model is configured: the embedded engine answers and nothing touches
    the network.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false: always use the embedded engine")
    base_url: str = Field(default="", description="OpenAI-compatible API base URL (…/v1)")
    api_key: SecretStr = Field(default=SecretStr(""), description="API key for base_url")
    fast_model: str = Field(default="gpt-4.1", description="tool-calling loop and composing")
    deep_model: str = Field(default="gpt-5.2", description="multi-step plans")
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="one model call, end to end")
    first_token_timeout_s: float = Field(
        default=4.0, gt=0, le=300, description="longest wait for a stream's first chunk"
    )
    sdk_max_retries: int = Field(
        default=2, ge=0, le=10, description="retries the SDK makes on 408/409/429/5xx"
    )
    max_attempts: int = Field(
        default=2,
        ge=1,
        le=10,
        description="our own bound on SDK calls per model call (each with its SDK retries)",
    )
    retry_backoff_s: float = Field(
        default=0.25, ge=0, le=30, description="base of our exponential backoff between attempts"
    )
    fast_tool_rounds: int = Field(
        default=2, ge=1, le=8, description="fast-tier rounds before escalating to the deep tier"
    )
    deep_min_systems: int = Field(
        default=2, ge=1, le=10, description="a flow touching this many backends plans on deep"
    )

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get("OPENAI_BASE_URL", "")

    def resolved_api_key(self) -> str:
        return self.api_key.get_secret_value() or os.environ.get("OPENAI_API_KEY", "")

    @property
    def configured(self) -> bool:
        """Whether a model endpoint is configured at all."""
        return self.enabled and bool(self.resolved_base_url() or self.resolved_api_key())


class PlannerSettings(ServiceSettings):
    """Where flows and prompts come from, and the model tiers."""

    port: int = Field(default=50052, ge=0, le=65535)
    flows_dir: Path = Field(default=PACKS_DIR / "flows", description="folder of flow YAML files")
    prompts_dir: Path = Field(default=PROMPTS_DIR, description="folder of prompt templates")
    prompt_version: str = Field(default="v2", description="version of the prompt templates")
    brand: str = Field(default="the company", description="who the assistant speaks for")
    multi_intent_confidence: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="another intent at least this likely is served too (deep tier, or its flow)",
    )
    model: ModelSettings = Field(default_factory=ModelSettings)
