"""When a turn may rely on the session's record that its customer is not verified.

An identity check (:class:`~services.router.config.IdentityCheck`) looks the customer up through
the tool-broker (the CRM's ``getCustomer``), and masking the customer's message waits for it. A
lookup that finds the customer verified is kept for the whole session
(``Session.identity_verified``). One that finds them not verified is kept in the session as an
``IdentityLookup``, and the session's next turns rely on it instead of looking the customer up
again, while all of this holds:

- it is for the customer the turn names;
- it is younger than ``router.identity_cache_ttl_s`` by this router's clock; a record dated in the
  future (another replica's clock ahead of this one) is not relied on;
- no turn since may have changed the customer's state. Every turn's write replaces the record or
  clears it, and a turn keeps it only when it did not fail part-way, none of its tool calls that
  reached a backend could have changed anything (only read-only tools), and its write is the
  first after its read (a write retried after a concurrent one clears it).

A turn may also prove who the caller is (:class:`~services.router.config.IdentityProof`): a step
of a proof tool that succeeded with the expected answer (the CRM matched the email address the
caller gave). An anonymous session then serves that customer (:func:`proven_customer`), and its
next turns check their identity as for a customer the channel names.

Relying on the record only ever errs on the safe side: the customer is treated as not verified,
never as verified. A verification made outside the session (another channel, the back office) is
seen at most ``identity_cache_ttl_s`` after the lookup, plus the clock skew between router
replicas. The record lives in the session, not in one router process, so it serves every replica
and survives restarts.

The names the lookup taught the session's PII vault stay there for ``pii.vault_ttl_s`` after it,
longer than the record is relied on, so a turn that relies on it still has them masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf.json_format import MessageToDict

from services.router.config import IdentityProof
from switchboard.v1 import common_pb2, session_pb2

#: outcomes of steps whose backend never saw the call
_NOT_SENT = (common_pb2.STEP_OUTCOME_REJECTED, common_pb2.STEP_OUTCOME_SKIPPED)


def new_lookup(customer_id: str, checked_at: float) -> session_pb2.IdentityLookup:
    """The record of a lookup, sent at ``checked_at`` (Unix seconds), that found the customer not
    verified."""
    lookup = session_pb2.IdentityLookup(customer_id=customer_id)
    lookup.checked_at.FromNanoseconds(round(checked_at * 1e9))
    return lookup


def recent_lookup(
    session: session_pb2.Session, customer_id: str, *, now: float, ttl_s: float
) -> session_pb2.IdentityLookup | None:
    """The session's lookup of ``customer_id`` when a turn at ``now`` may still rely on it."""
    if ttl_s <= 0 or not customer_id or not session.HasField("identity_lookup"):
        return None
    lookup = session.identity_lookup
    if lookup.customer_id != customer_id:
        return None
    age = now - lookup.checked_at.ToNanoseconds() / 1e9
    return lookup if 0 <= age < ttl_s else None


def sent_tools(results: Iterable[common_pb2.StepResult]) -> frozenset[str]:
    """The tools of the steps that reached, or may have reached, their backend."""
    return frozenset(r.tool for r in results if r.outcome not in _NOT_SENT)


def proven_customer(
    results: Iterable[common_pb2.StepResult], proofs: Sequence[IdentityProof]
) -> str:
    """The customer a step of the turn proved the caller to be ('' when none did).

    A proof counts only when its step succeeded and the result's field has the expected value;
    two proofs naming different customers prove neither.
    """
    proven = set()
    for result in results:
        if result.outcome != common_pb2.STEP_OUTCOME_SUCCEEDED:
            continue
        for proof in proofs:
            if result.tool != proof.tool:
                continue
            answer = MessageToDict(result.result).get(proof.field)
            customer = MessageToDict(result.arguments).get(proof.argument)
            same = type(answer) is type(proof.equals) and answer == proof.equals
            if same and isinstance(customer, str) and customer:
                proven.add(customer)
    return proven.pop() if len(proven) == 1 else ""


def awaiting_proof(
    awaited: str,
    results: Sequence[common_pb2.StepResult],
    proofs: Sequence[IdentityProof],
    served: str,
) -> str:
    """The request an anonymous session holds for the caller's proof after a turn that served
    ``served`` with ``results``, when it held ``awaited`` before ("": none).

    A step refused by a rule a proof answers makes the turn's request the one that waits. A turn
    that only tried a proof (or ran no step at all: a question asked, a greeting) leaves the one
    that waited; a turn that called other tools has moved on to another request, and nothing
    waits any more. (A proof that succeeds ends the wait too: its reply offers the request.)
    """
    answered = {rule for proof in proofs for rule in proof.answers}
    if served and any(
        r.outcome == common_pb2.STEP_OUTCOME_REJECTED
        and any(v.rule_id in answered for v in r.verdicts)
        for r in results
    ):
        return served
    proof_tools = {proof.tool for proof in proofs}
    return "" if any(r.tool not in proof_tools for r in results) else awaited
