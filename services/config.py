"""Switchboard's settings: embedded defaults, then a YAML file, then the environment.

The file is named by ``--config`` or ``SWITCHBOARD_CONFIG``. Environment variables override it:
``SWITCHBOARD_<SECTION>__<FIELD>``, for example ``SWITCHBOARD_ROUTER__PORT=6051``. An invalid
value stops the start with a message naming the setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from mocks.config import MocksSettings
from services.gateway_runner import GatewaySettings
from services.governance.config import GovernanceSettings
from services.pii.config import PiiSettings
from services.planner.config import PlannerSettings
from services.router.config import RouterSettings
from services.runtime.errors import ConfigError
from services.runtime.settings import ServiceSettings
from services.session.config import SessionSettings
from services.tool_broker.config import ToolBrokerSettings

ENV_PREFIX = "SWITCHBOARD_"


class TelemetrySettings(BaseModel):
    """Where traces and logs go."""

    model_config = ConfigDict(extra="forbid")

    otlp_endpoint: str = Field(default="", description="OTLP/gRPC collector; empty: none")
    local_dir: str = Field(
        default="telemetry",
        description="folder under data_dir for each service's spans and metrics as JSON lines "
        "(<service>.spans.jsonl, <service>.metrics.jsonl); empty: none",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    """Every setting of every service, so one file configures the whole mesh."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    data_dir: Path = Field(default=Path(".switchboard"), description="sessions, traces, state")
    router: RouterSettings = Field(default_factory=RouterSettings)
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    tool_broker: ToolBrokerSettings = Field(default_factory=ToolBrokerSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    mocks: MocksSettings = Field(default_factory=MocksSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment overrides them.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _identity_cache_within_the_vault(self) -> Settings:
        # A turn that relies on the session's earlier identity lookup does not teach the PII vault
        # the customer's names again: they must still be there from that lookup.
        if self.router.identity_cache_ttl_s >= self.pii.vault_ttl_s:
            raise ValueError(
                f"router.identity_cache_ttl_s ({self.router.identity_cache_ttl_s:g}) must be "
                f"shorter than pii.vault_ttl_s ({self.pii.vault_ttl_s:g}): turns that rely on an "
                "earlier identity lookup need the names it taught the vault"
            )
        return self

    def service(self, name: str) -> ServiceSettings:
        """The settings of a service by its Python name ("tool_broker")."""
        section = getattr(self, name, None)
        if not isinstance(section, ServiceSettings):
            raise ConfigError(f"unknown service {name!r}")
        return section


SERVICES = ("router", "planner", "tool_broker", "governance", "pii", "session")


def _describe(error: dict[str, Any]) -> str:
    if not error["loc"]:
        # A check across sections names its settings in its message.
        return f"invalid settings: {error['msg'].removeprefix('Value error, ')}"
    location = ".".join(str(part) for part in error["loc"])
    env = ENV_PREFIX + "__".join(str(part).upper() for part in error["loc"])
    shown = error.get("input")
    got = "" if isinstance(shown, dict) else f" (got {shown!r})"
    return f"invalid setting '{location}': {error['msg']}{got} [environment: {env}]"


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Load the settings; raise ConfigError naming every invalid setting."""
    path = config_file or os.environ.get(ENV_PREFIX + "CONFIG") or None
    data: dict[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read config file {path}: {error}") from error
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of sections")
        data = loaded or {}
    for key, value in overrides.items():
        data[key] = value
    try:
        return Settings(**data)
    except ValidationError as error:
        lines = [_describe(e) for e in error.errors()]  # type: ignore[arg-type]
        where = f" in {path}" if path else ""
        raise ConfigError(f"configuration{where} is invalid:\n  " + "\n  ".join(lines)) from None
