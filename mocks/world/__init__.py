"""One coherent mock enterprise, generated deterministically from a seed."""

from __future__ import annotations

from mocks.world.generate import World, build_world

__all__ = ["World", "build_world"]
