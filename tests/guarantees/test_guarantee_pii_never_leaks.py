"""Raw PII never reaches a model request, a span, a log line or a session row.

The corpus (corpus/conversations.yaml) is run once through the whole mesh, its planner on the
scripted model server, with every log record of the process captured at DEBUG. Each sink is then
searched for every value the detector finds (values marked ``detector_gap`` are reported by
test_guarantee_corpus_detection.py instead), in the forms a leak could take: as written, without
separators, URL-encoded, behind JSON unicode escapes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from guarantees_support import (
    CapturedLogs,
    Conversation,
    LeakFinder,
    LogCapture,
    PiiValue,
    Turn,
    backend_requests,
    clear_logs,
    list_turns,
    load_corpus,
    model_requests,
    record_text,
    request_text,
    send_turn,
    set_script,
    span_texts,
    sqlite_dump,
    start_scripted_mesh,
    stop_mesh,
    summary,
)
from harness import LoopThread
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mocks.model.script import Match, Reply, ScriptEntry, ToolCallSpec, text_reply, tool_reply
from services.mesh import Mesh

CORPUS = load_corpus()

#: the reply every compose request gets: no personal data of its own
COMPOSED = "Thanks for your patience. I have looked into this for you."

SCRIPT = [
    # The fast tier looks a caller up by the email they gave: the placeholder goes to the broker,
    # which restores it for findCustomers (a tool allowed to receive EMAIL).
    tool_reply(
        "findCustomers", {"email": "<EMAIL_1>"}, offers_tool="findCustomers", contains="<EMAIL_1>"
    ),
    tool_reply("searchArticles", {"q": "policy for this request"}, offers_tool="searchArticles"),
    ScriptEntry(
        name="deep plan with an email lookup",
        match=Match(forced_tool="submit_plan", contains="<EMAIL_1>"),
        reply=Reply(
            tool_calls=[
                ToolCallSpec(
                    name="submit_plan",
                    arguments={
                        "steps": [
                            {
                                "id": "caller",
                                "tool": "findCustomers",
                                "arguments": {"email": "<EMAIL_1>"},
                            },
                            {"id": "kb", "tool": "searchArticles", "arguments": {"q": "policy"}},
                        ]
                    },
                )
            ]
        ),
    ),
    ScriptEntry(
        name="deep plan",
        match=Match(forced_tool="submit_plan"),
        reply=Reply(
            tool_calls=[
                ToolCallSpec(
                    name="submit_plan",
                    arguments={
                        "steps": [
                            {"id": "kb", "tool": "searchArticles", "arguments": {"q": "policy"}}
                        ]
                    },
                )
            ]
        ),
    ),
    text_reply(COMPOSED, offers_tool="show_media"),
]


@dataclass
class CorpusRun:
    mesh: Mesh
    turns: dict[str, list[Turn]]
    logs: CapturedLogs

    @functools.cached_property
    def log_hits(self) -> list[tuple[int, str, set[str]]]:
        """(level, logger, values found) per captured line, text and JSON, scanned once; the
        cel-python lines (tens of thousands, and leaking) are left to :meth:`first_cel_leak`."""
        return [
            (record.levelno, record.name, found_in(line))
            for record, line in self.logs.lines()
            if not record.name.startswith(CEL_LOGGER)
        ]

    def first_cel_leak(self) -> set[str]:
        """The values in the first cel-python line that carries any."""
        for record, line in self.logs.lines():
            if record.name.startswith(CEL_LOGGER) and (hits := found_in(line)):
                return {f"{record.name}: {hit}" for hit in hits}
        return set()

    @property
    def trace_ids(self) -> set[str]:
        return {t.trace_id for turns in self.turns.values() for t in turns}


def guarded(conversation: Conversation) -> list[PiiValue]:
    return [v for v in conversation.pii if not v.detector_gap]


def every_guarded_value() -> list[tuple[str, PiiValue]]:
    return [(c.id, v) for c in CORPUS for v in guarded(c)]


FINDER = LeakFinder((f"{cid}:{v.type}:{v.value!r}", v.value) for cid, v in every_guarded_value())


def found_in(text: str) -> set[str]:
    return FINDER.find(text)


@pytest.fixture(scope="module")
def corpus_run(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CorpusRun]:
    mesh = start_scripted_mesh(loop_thread, tmp_path_factory.mktemp("pii-guarantee"))
    try:
        set_script(mesh, SCRIPT)
        clear_logs(mesh)
        with LogCapture() as logs:
            turns = {
                c.id: [send_turn(mesh, c.session_id, text, c.customer_id) for text in c.turns]
                for c in CORPUS
            }
        yield CorpusRun(mesh, turns, logs)
    finally:
        stop_mesh(loop_thread, mesh)


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 30
    assert {c.domain for c in CORPUS} == {"airline", "sportsbook", "dental"}
    assert all(len(c.turns) >= 2 for c in CORPUS)
    types = {v.type for c in CORPUS for v in guarded(c)}
    wanted = {"CARD", "EMAIL", "PHONE", "IBAN", "SSN", "PERSON", "ADDRESS", "DOB", "PASSPORT"}
    assert wanted <= types, wanted - types
    for conversation in CORPUS:
        text = "\n".join(conversation.turns)
        for value in conversation.pii:
            assert value.value in text, (conversation.id, value)


def test_no_model_request_carries_raw_pii(corpus_run: CorpusRun) -> None:
    requests = model_requests(corpus_run.mesh)
    # Not vacuous: the corpus reached the model, as placeholders.
    assert len(requests) >= len(CORPUS), len(requests)
    dumped = [request_text(r) for r in requests]
    for kind in ("CARD", "EMAIL", "PHONE", "IBAN", "SSN", "PERSON", "ADDRESS", "DOB", "PASSPORT"):
        assert any(f"<{kind}_" in text for text in dumped), f"no <{kind}_n> reached the model"
    leaked = {hit for text in dumped for hit in found_in(text)}
    assert not leaked, f"raw PII in model requests: {summary(leaked)}"


#: the instrumentation that records the tool-broker's backend HTTP calls as client spans
HTTPX_SCOPE = "opentelemetry.instrumentation.httpx"
#: libraries that log raw text verbatim (URLs, CEL activations) unless kept at WARNING, as the
#: services that use them do
CEL_LOGGER = "celpy"
HTTPX_LOGGER = "httpx"


def turn_spans(run: CorpusRun, spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        span
        for span in spans.get_finished_spans()
        if span.context is not None and format(span.context.trace_id, "032x") in run.trace_ids
    ]


def span_leaks(found: list[ReadableSpan]) -> set[str]:
    return {f"{name}: {hit}" for name, text in span_texts(found) for hit in found_in(text)}


def scope_of(span: ReadableSpan) -> str:
    scope = span.instrumentation_scope
    return scope.name if scope is not None else ""


def test_no_switchboard_span_carries_raw_pii(
    corpus_run: CorpusRun, spans: InMemorySpanExporter
) -> None:
    """Every span the services make (turn, stages, RPCs, steps, policy checks, model calls)."""
    found = [s for s in turn_spans(corpus_run, spans) if scope_of(s) != HTTPX_SCOPE]
    # Not vacuous: the turns' traces span the router, the services and the tool-broker's steps.
    assert len(found) > 10 * len(CORPUS), len(found)
    assert any("findCustomers" in text for _, text in span_texts(found))
    leaked = span_leaks(found)
    assert not leaked, f"raw PII in spans: {summary(leaked)}"


def test_no_span_carries_raw_pii(corpus_run: CorpusRun, spans: InMemorySpanExporter) -> None:
    """Every span of the turns' traces, the HTTP client spans of backend calls included."""
    found = turn_spans(corpus_run, spans)
    assert any(scope_of(s) == HTTPX_SCOPE for s in found)
    leaked = span_leaks(found)
    assert not leaked, f"raw PII in spans: {summary(leaked)}"


def log_leaks(run: CorpusRun, level: int, skip: tuple[str, ...] = ()) -> set[str]:
    return {
        f"{name}: {hit}"
        for levelno, name, hits in run.log_hits
        if levelno >= level and not name.startswith(skip)
        for hit in hits
    }


def test_no_log_line_outside_celpy_and_httpx_carries_raw_pii(corpus_run: CorpusRun) -> None:
    """Every record at DEBUG and above, as text and as JSON, except the two libraries below."""
    names = {record.name for record in corpus_run.logs.records}
    assert any(name.startswith("services.") for name in names) or len(names) > 5, names
    leaked = log_leaks(corpus_run, logging.DEBUG, skip=(HTTPX_LOGGER,))
    assert not leaked, f"raw PII in log lines: {summary(leaked)}"


def test_no_log_line_at_info_carries_raw_pii(corpus_run: CorpusRun) -> None:
    leaked = log_leaks(corpus_run, logging.INFO)
    assert not leaked, f"raw PII in log lines: {summary(leaked)}"


def test_no_log_line_at_debug_carries_raw_pii(corpus_run: CorpusRun) -> None:
    leaked = log_leaks(corpus_run, logging.DEBUG, skip=(HTTPX_LOGGER,))
    leaked |= corpus_run.first_cel_leak()
    assert not leaked, f"raw PII in log lines: {summary(leaked)}"


def test_no_session_row_carries_raw_pii(corpus_run: CorpusRun) -> None:
    path = Path(corpus_run.mesh.settings.data_dir) / "sessions.db"
    assert path.is_file(), path
    raw = path.read_bytes().decode("utf-8", errors="replace") + "\n" + sqlite_dump(path)
    leaked = set(found_in(raw))
    for conversation in CORPUS:
        records = list_turns(corpus_run.mesh, conversation.session_id)
        assert len(records) == len(conversation.turns), conversation.id
        for record in records:
            leaked |= {f"ListTurns {hit}" for hit in found_in(record_text(record))}
    assert not leaked, f"raw PII in session rows: {summary(leaked)}"


def test_the_broker_restored_an_email_for_the_crm_only(corpus_run: CorpusRun) -> None:
    """The same run, seen from the backend: findCustomers got the real email (it may), and no
    other backend received any corpus value."""
    crm = backend_requests(corpus_run.mesh, "crm")
    lookups = [r for r in crm if r["operation_id"] == "findCustomers"]
    assert lookups, "the scripted email lookup never reached the crm"
    emails = {v.value for _, v in every_guarded_value() if v.type == "EMAIL"}
    assert {r["query"].get("email") for r in lookups} <= emails
    for backend in ("booking", "payments", "claims", "knowledge"):
        for request in backend_requests(corpus_run.mesh, backend):
            assert not found_in(request_text(request)), (backend, request)


def test_names_the_crm_knows_never_reach_the_model(corpus_run: CorpusRun) -> None:
    (known,) = [c for c in CORPUS if c.id == "sb-01"]
    assert known.customer_id == "C-1002"
    requests = [request_text(r) for r in model_requests(corpus_run.mesh)]
    assert any("withdrawal" in text.lower() for text in requests)
    assert not any("Jordan Patel" in text for text in requests)
