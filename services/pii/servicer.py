"""PiiService: maps protos to the masking domain and back."""

from __future__ import annotations

from typing import Any

from grpc import aio

from services.pii.guard import DetectionGuard
from services.pii.masking import MaskedEntity, Masker, collect_strings
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import InvalidArgument
from switchboard.v1 import pii_pb2, pii_pb2_grpc

_MAX_SESSION_ID = 256


def _session_id(value: str) -> str:
    if not value:
        raise InvalidArgument("session_id is required")
    if len(value) > _MAX_SESSION_ID:
        raise InvalidArgument(f"session_id is longer than {_MAX_SESSION_ID} characters")
    return value


def _entity(entity: MaskedEntity) -> pii_pb2.PiiEntity:
    return pii_pb2.PiiEntity(
        type=entity.type,
        placeholder=entity.placeholder,
        start=entity.start,
        end=entity.end,
        score=entity.score,
    )


class PiiServicer(pii_pb2_grpc.PiiServiceServicer):
    """Redact, RedactData, Restore and EraseSession."""

    def __init__(self, masker: Masker, guard: DetectionGuard, max_text_chars: int) -> None:
        self._masker = masker
        self._guard = guard
        self._max_text_chars = max_text_chars

    def _check_size(self, texts: list[str]) -> None:
        total = sum(len(text) for text in texts)
        if total > self._max_text_chars:
            raise InvalidArgument(
                f"text is {total} characters; at most {self._max_text_chars} are accepted"
            )

    async def Redact(
        self, request: pii_pb2.RedactRequest, context: aio.ServicerContext[Any, Any]
    ) -> pii_pb2.RedactResponse:
        session_id = _session_id(request.session_id)
        self._check_size([request.text])
        text, given, shown = request.text, list(request.known_names), list(request.shown)
        masked = await self._guard.run(
            lambda: self._masker.redact(session_id, text, given, shown=shown)
        )
        return pii_pb2.RedactResponse(
            text=masked.text, entities=[_entity(e) for e in masked.entities]
        )

    async def RedactData(
        self, request: pii_pb2.RedactDataRequest, context: aio.ServicerContext[Any, Any]
    ) -> pii_pb2.RedactDataResponse:
        session_id = _session_id(request.session_id)
        data = struct_to_dict(request.data)
        self._check_size(collect_strings(data))
        given = list(request.known_names)
        masked, entities = await self._guard.run(
            lambda: self._masker.redact_data(session_id, data, given)
        )
        return pii_pb2.RedactDataResponse(
            data=dict_to_struct(masked), entities=[_entity(e) for e in entities]
        )

    async def Restore(
        self, request: pii_pb2.RestoreRequest, context: aio.ServicerContext[Any, Any]
    ) -> pii_pb2.RestoreResponse:
        session_id = _session_id(request.session_id)
        data, allowed = struct_to_dict(request.data), list(request.allowed_types)
        restored, refused = await self._guard.run(
            lambda: self._masker.restore(session_id, data, allowed)
        )
        return pii_pb2.RestoreResponse(data=dict_to_struct(restored), refused=refused)

    async def EraseSession(
        self, request: pii_pb2.EraseSessionRequest, context: aio.ServicerContext[Any, Any]
    ) -> pii_pb2.EraseSessionResponse:
        session_id = _session_id(request.session_id)
        erased = await self._guard.run(lambda: self._masker.vault.erase(session_id))
        return pii_pb2.EraseSessionResponse(erased=erased)
