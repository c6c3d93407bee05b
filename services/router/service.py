"""The router as a mesh service."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grpc import aio

from services.router.peers import Peers
from services.router.servicer import SERVICE_NAME, RouterServicer
from services.router.turn import TurnRunner
from services.runtime.memory import release_freed_memory
from services.session.turns import TurnGate

if TYPE_CHECKING:
    from services.config import Settings


class RouterService:
    """Public API, intent classification and turn orchestration."""

    name = "router"
    service_names: Sequence[str] = (SERVICE_NAME,)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.servicer = RouterServicer(
            max_text_chars=settings.router.max_text_chars,
            max_turns=settings.router.max_concurrent_turns,
            gate=TurnGate.from_settings(settings.session),
        )

    def register(self, server: aio.Server) -> None:
        server.add_generic_rpc_handlers((self.servicer.handler(),))

    async def start(self) -> None:
        from services.intents import IntentClassifier
        from services.intents.features import LayerPoolingEncoder

        config = self.settings.router

        def train() -> IntentClassifier:
            encoder = LayerPoolingEncoder(
                backend=config.classifier_backend, threads=config.classifier_threads
            )
            # The examples are encoded here and the model is fitted in a child process (what
            # from_packs does): scikit-learn and scipy, ~100 MiB once imported, never load here.
            return IntentClassifier.from_packs(
                config.intents_dir, encoder=encoder, cache_dir=self.settings.data_dir / "intents"
            )

        # Loading the encoder and training from the packs is CPU work; keep the loop free.
        classifier = await asyncio.to_thread(train)
        # Loading the encoder and encoding the examples free more than they keep (the weights on
        # their way into onnxruntime, the batches' arrays); the C heap would hold on to ~20 MiB
        # of it for as long as its own heuristics decide (benchmarks/router_memory.py). Hand it
        # back now.
        release_freed_memory()
        peers = Peers(
            session=self.settings.session.target,
            pii=self.settings.pii.target,
            governance=self.settings.governance.target,
            planner=self.settings.planner.target,
            tool_broker=self.settings.tool_broker.target,
        )
        self.servicer.peers = peers
        self.servicer.runner = TurnRunner(
            peers,
            classifier,
            turn_deadline_s=config.turn_deadline_s,
            understand_timeout_s=config.understand_timeout_s,
            identity_checks=config.identity_checks,
            identity_cache_ttl_s=config.identity_cache_ttl_s,
            identity_proofs=config.identity_proofs,
            industries=_industries(config.intents_dir),
            shared_industries=config.shared_industries,
            other_industry_odds=config.other_industry_odds,
            unasked_answer_odds=config.unasked_answer_odds,
        )

    async def stop(self) -> None:
        if self.servicer.peers is not None:
            await self.servicer.peers.close()
        await self.servicer.gate.close()


def _industries(packs_dir: Path) -> dict[str, str]:
    """Each intent's industry, from the packs the classifier learnt."""
    from services.intents.packs import load_packs

    return {intent.name: pack.industry for pack in load_packs(packs_dir) for intent in pack.intents}


def build(settings: Settings) -> RouterService:
    return RouterService(settings)
