"""A prompt's "n" turns the change down even where the classifier reads it as a yes.

Single letters are below what the classifier reads reliably, so the router reads a yes/no
prompt's shorthand itself. Here the tenant's packs teach "n" as a confirmation (the classifier
then reads it as one, confidently): the shorthand must still win, both for a change that waits
and for an offer, which "n" turns down as a plain "no" does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from harness import LoopThread, ephemeral_settings
from test_mesh_scenarios import finished, intent, reply, session_of, turn
from wallet_customers import AskedWithdrawal, withdrawals_made

from services.mesh import Mesh, start_mesh
from services.router.config import PACKS_DIR


@pytest.fixture(scope="module")
def mesh(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The mesh with "n" taught as a yes; the `asked` fixture of conftest.py runs on it."""
    root = Path(tmp_path_factory.mktemp("shorthand-no"))
    intents = root / "intents"
    shutil.copytree(PACKS_DIR / "intents", intents)
    general = yaml.safe_load((intents / "general.yaml").read_text(encoding="utf-8"))
    confirm = next(i for i in general["intents"] if i["name"] == "confirm")
    confirm["examples"] += ["n", "n.", "n!"]
    (intents / "general.yaml").write_text(yaml.safe_dump(general), encoding="utf-8")
    settings = ephemeral_settings(root / "data")
    settings.router.intents_dir = intents
    running = loop_thread.run(start_mesh(settings), timeout=180)
    yield running
    loop_thread.run(running.stop())


def test_n_turns_a_waiting_change_down(mesh: Mesh, asked: AskedWithdrawal) -> None:
    declined = asked.say("n")
    assert intent(declined) == "confirm"  # the classifier's reading, kept on the stream
    assert reply(declined).startswith("Alright, I won't go ahead with that."), reply(declined)
    after = asked.say("yes")
    assert "createWithdrawal" not in finished(after)
    assert withdrawals_made(mesh) == asked.made_before


def test_n_does_not_take_up_an_offer(mesh: Mesh) -> None:
    session = "shorthand-no-offer"
    turn(mesh, session, "is flight UA 123 on time?", "C-1001")
    assert session_of(mesh, session).offered_intent == "rebook_flight"
    answered = turn(mesh, session, "n", "C-1001")
    plans = [e.plan.plan.flow for e in answered if e.WhichOneof("event") == "plan"]
    assert "rebook_flight" not in plans, reply(answered)
    assert "searchFlights" not in finished(answered)
    # A plain "no": the offer is turned down, not a message to clarify.
    assert plans == ["decline"], reply(answered)
    assert reply(answered).startswith("Alright, I won't go ahead with that."), reply(answered)
    assert session_of(mesh, session).offered_intent == ""
