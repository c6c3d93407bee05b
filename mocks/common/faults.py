"""Injected latency, errors and timeouts, so tests and benchmarks can make a backend misbehave.

A fault specification applies to every operation (``default``) or to one operation by its
operationId (``operations``), which replaces the default for it. Latency is drawn from a
distribution described by its mean and 99th percentile, never a constant unless asked.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The 99th percentile of the standard normal distribution.
_Z99 = 2.3263478740408408


class Latency(BaseModel):
    """How long a backend takes before it answers, in milliseconds."""

    model_config = ConfigDict(extra="forbid")

    distribution: Literal["constant", "uniform", "lognormal"] = Field(
        default="lognormal", description="shape of the latency distribution"
    )
    mean_ms: float = Field(ge=0, le=600_000, description="mean latency")
    p99_ms: float | None = Field(
        default=None, ge=0, le=600_000, description="99th percentile; defaults to 3 x mean"
    )

    @model_validator(mode="after")
    def _feasible(self) -> Latency:
        p99 = self.p99_target
        if self.distribution != "constant" and p99 < self.mean_ms:
            raise ValueError("p99_ms must be at least mean_ms")
        if self.distribution == "lognormal" and self.mean_ms > 0:
            # exp(mu + sigma^2/2) = mean and exp(mu + z*sigma) = p99 has a solution only while
            # ln(p99/mean) <= z^2/2, i.e. p99 at most ~15 x mean.
            if math.log(p99 / self.mean_ms) > _Z99**2 / 2:
                raise ValueError("a lognormal latency needs p99_ms <= 14.9 x mean_ms")
        if self.distribution == "uniform" and self.mean_ms > 0:
            half_width = (p99 - self.mean_ms) / 0.98
            if half_width > self.mean_ms:
                raise ValueError("a uniform latency needs p99_ms <= 1.98 x mean_ms")
        return self

    @property
    def p99_target(self) -> float:
        return self.p99_ms if self.p99_ms is not None else 3 * self.mean_ms

    def sample_s(self, rng: random.Random) -> float:
        """One latency draw, in seconds."""
        mean = self.mean_ms
        if mean == 0 or self.distribution == "constant":
            return mean / 1000
        p99 = self.p99_target
        if self.distribution == "uniform":
            # A uniform [mean - h, mean + h] has its p99 at mean + 0.98 h.
            half_width = (p99 - mean) / 0.98
            return rng.uniform(mean - half_width, mean + half_width) / 1000
        gap = math.log(p99 / mean)
        sigma = _Z99 - math.sqrt(max(_Z99**2 - 2 * gap, 0.0))
        mu = math.log(mean) - sigma**2 / 2
        return rng.lognormvariate(mu, sigma) / 1000


class FaultSpec(BaseModel):
    """What goes wrong with the requests it applies to."""

    model_config = ConfigDict(extra="forbid")

    latency: Latency | None = Field(default=None, description="added latency; none: answer now")
    error_rate: float = Field(
        default=0.0, ge=0, le=1, description="share of requests answered with error_status"
    )
    error_status: int = Field(default=503, ge=500, le=599, description="status of an error")
    timeout_rate: float = Field(
        default=0.0, ge=0, le=1, description="share of requests that hang, then are dropped"
    )
    timeout_s: float = Field(default=30.0, ge=0, le=600, description="how long a timeout hangs")
    timeout_phase: Literal["before", "after"] = Field(
        default="after",
        description="drop before the operation runs, or after it took effect (the reply is lost)",
    )
    limit: int | None = Field(
        default=None, ge=1, description="only the next N requests get the error or timeout"
    )

    @model_validator(mode="after")
    def _rates(self) -> FaultSpec:
        if self.error_rate + self.timeout_rate > 1:
            raise ValueError("error_rate + timeout_rate must not exceed 1")
        return self


class FaultConfig(BaseModel):
    """The faults of one backend."""

    model_config = ConfigDict(extra="forbid")

    default: FaultSpec = Field(default_factory=FaultSpec, description="for every operation")
    operations: dict[str, FaultSpec] = Field(
        default_factory=dict, description="per operationId; replaces the default for it"
    )
    seed: int | None = Field(default=None, description="seed of the fault dice; none: random")


@dataclass(frozen=True)
class Decision:
    """What happens to one request."""

    delay_s: float = 0.0
    error_status: int | None = None
    timeout_s: float | None = None
    timeout_phase: Literal["before", "after"] = "after"


class FaultInjector:
    """Rolls the dice for each request according to the current configuration."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        self._config = config
        self._rng = random.Random(config.seed)
        # Remaining uses of limited specs, keyed by operationId ("" for the default).
        self._remaining: dict[str, int] = {}
        if config.default.limit is not None:
            self._remaining[""] = config.default.limit
        for name, spec in config.operations.items():
            if spec.limit is not None:
                self._remaining[name] = spec.limit

    def decide(self, operation_id: str | None) -> Decision:
        key = operation_id if operation_id in self._config.operations else ""
        spec = self._config.operations[key] if key else self._config.default
        delay = spec.latency.sample_s(self._rng) if spec.latency else 0.0
        if self._remaining.get(key, 1) <= 0:
            return Decision(delay_s=delay)
        roll = self._rng.random()
        if roll < spec.error_rate:
            self._use(key)
            return Decision(delay_s=delay, error_status=spec.error_status)
        if roll < spec.error_rate + spec.timeout_rate:
            self._use(key)
            return Decision(
                delay_s=delay, timeout_s=spec.timeout_s, timeout_phase=spec.timeout_phase
            )
        return Decision(delay_s=delay)

    def _use(self, key: str) -> None:
        if key in self._remaining:
            self._remaining[key] -= 1
