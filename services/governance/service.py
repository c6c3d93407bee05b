"""The governance service: policy packs and tool contracts, loaded at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from grpc import aio

from services.catalogue import Catalogue
from services.config import Settings
from services.governance.engine import Governance
from services.governance.ladder import Ladder
from services.governance.packs import load_packs
from services.governance.servicer import GovernanceServicer
from services.runtime.errors import Unavailable
from switchboard.v1 import governance_pb2_grpc

log = logging.getLogger(__name__)


class GovernanceService:
    """Loads the packs and the catalogue at start; a bad pack stops the start."""

    name = "governance"
    service_names: Sequence[str] = ("switchboard.v1.GovernanceService",)

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._governance: Governance | None = None
        self._ladder: Ladder | None = None

    @property
    def governance(self) -> Governance:
        """The loaded packs and contracts."""
        if self._governance is None:
            raise Unavailable("governance is still loading its policy packs")
        return self._governance

    @property
    def ladder(self) -> Ladder:
        """The fallback ladder over the loaded packs."""
        if self._ladder is None:
            raise Unavailable("governance is still loading its policy packs")
        return self._ladder

    def register(self, server: aio.Server) -> None:
        servicer = GovernanceServicer(
            lambda: self.governance,
            lambda: self.ladder,
            self._settings.governance.output_hold_chars,
        )
        governance_pb2_grpc.add_GovernanceServiceServicer_to_server(servicer, server)

    async def start(self) -> None:
        # Compiling the packs and the contracts is CPU work; keep the loop free meanwhile.
        policy = await asyncio.to_thread(load_packs, self._settings.governance)
        catalogue = await asyncio.to_thread(Catalogue.load, self._settings.tool_broker.backends)
        for pack, param, tool in policy.tool_references():
            if catalogue.get(tool) is None:
                log.warning(
                    "%s: params.%s names tool %s, which no configured backend has",
                    pack.path,
                    param,
                    tool,
                )
        self._governance = Governance(policy, catalogue)
        self._ladder = Ladder(policy)
        log.info("governance ready: %d tools under contract", len(catalogue.tools()))

    async def stop(self) -> None:
        self._governance = None
        self._ladder = None


def build(settings: Settings) -> GovernanceService:
    """The governance service for these settings."""
    return GovernanceService(settings)
