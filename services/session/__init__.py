"""The session service: conversation state across discontinuous interactions, and the audit trail.

Modules: ``store`` (the store interface and its guarantees), ``sqlite_store`` and ``redis_store``
(the two backends), ``state`` (how a turn changes a session, shared by both), ``sessions`` (the
domain API: validation, paging), ``turns`` (``TurnGate``, the concurrent-turn strategy the router
uses in-process), ``servicer`` and ``service`` (gRPC), ``transcript`` and ``cli`` (``switchboard
session show|erase``).
"""
