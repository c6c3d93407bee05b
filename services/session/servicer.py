"""SessionService over gRPC: maps the protos to :class:`Sessions` calls and nothing more."""

from __future__ import annotations

from typing import Any

from grpc import aio

from services.session.sessions import Sessions
from services.session.state import TurnWrite
from switchboard.v1 import session_pb2, session_pb2_grpc

Context = aio.ServicerContext[Any, Any]


class SessionServicer(session_pb2_grpc.SessionServiceServicer):
    """The gRPC face of the session store. Errors are SwitchboardErrors, mapped by the runtime."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def GetSession(
        self, request: session_pb2.GetSessionRequest, context: Context
    ) -> session_pb2.GetSessionResponse:
        session, created = await self._sessions.get(request.session_id, create=request.create)
        return session_pb2.GetSessionResponse(session=session, created=created)

    async def AppendTurn(
        self, request: session_pb2.AppendTurnRequest, context: Context
    ) -> session_pb2.AppendTurnResponse:
        write = TurnWrite(
            turn=request.turn,
            slots=dict(request.slots),
            customer_id=request.customer_id,
            pending_flow=request.pending_flow,
            identity_verified=(
                request.identity_verified if request.HasField("identity_verified") else None
            ),
            pending_plan=request.pending_plan if request.HasField("pending_plan") else None,
            identity_lookup=(
                request.identity_lookup if request.HasField("identity_lookup") else None
            ),
            industry=request.industry,
            served_intent=request.served_intent,
            offered_intent=request.offered_intent,
            offered_choices=tuple(request.offered_choices),
            proof_awaited_intent=request.proof_awaited_intent,
        )
        session = await self._sessions.append(request.session_id, request.expected_version, write)
        return session_pb2.AppendTurnResponse(session=session)

    async def ListTurns(
        self, request: session_pb2.ListTurnsRequest, context: Context
    ) -> session_pb2.ListTurnsResponse:
        page = await self._sessions.list_turns(
            request.session_id, request.page_size, request.page_token
        )
        return session_pb2.ListTurnsResponse(turns=page.turns, next_page_token=page.next_page_token)

    async def DeleteSession(
        self, request: session_pb2.DeleteSessionRequest, context: Context
    ) -> session_pb2.DeleteSessionResponse:
        deleted = await self._sessions.delete(request.session_id)
        return session_pb2.DeleteSessionResponse(deleted=deleted)
