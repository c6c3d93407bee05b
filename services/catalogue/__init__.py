"""The tool catalogue, derived from the backends' OpenAPI 3.1 documents.

Each operation of a backend becomes one :class:`ToolSpec`: its operationId is the tool's name, its
path, query and header parameters and its flattened JSON body are the tool's arguments (one JSON
Schema 2020-12 object), its summary the description, and its ``x-switchboard`` extension says
whether it is read-only, needs confirmation, returns rich media, which PII types the broker may
restore in its arguments, and which session facts its result gives (:mod:`.facts`).
:class:`Catalogue` validates calls and responses against those contracts.
"""

from __future__ import annotations

from services.catalogue.catalogue import Catalogue
from services.catalogue.spec import ArgumentBinding, ToolSpec

__all__ = ["ArgumentBinding", "Catalogue", "ToolSpec"]
