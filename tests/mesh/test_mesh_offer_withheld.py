"""An offer the output checks kept from the customer is not taken up by their next "yes".

The tenant here has an output rule that blocks any sentence about "another flight", so the flight
status reply's "I can look for another flight for you." is replaced by the rule's message. The
customer never saw the offer; a "yes" on the next turn must not start a rebooking.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from harness import LoopThread, ephemeral_settings
from test_mesh_scenarios import finished, reply, session_of, turn

from services.governance.config import GOVERNANCE_DIR
from services.mesh import Mesh, start_mesh

CUSTOMER = "C-1001"
WITHHELD = "Ask an agent about other flights."


@pytest.fixture(scope="module")
def withholding_mesh(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Mesh]:
    root = Path(tmp_path_factory.mktemp("offer-withheld"))
    packs = root / "packs"
    shutil.copytree(GOVERNANCE_DIR / "packs", packs)
    airline = yaml.safe_load((packs / "airline.yaml").read_text(encoding="utf-8"))
    airline["rules"].append(
        {
            "id": "no-other-flights",
            "description": "the reply talks about another flight",
            "stage": "output",
            "when": 'text.matches(r"(?i)another flight")',
            "action": "block",
            "message": WITHHELD,
        }
    )
    (packs / "airline.yaml").write_text(yaml.safe_dump(airline), encoding="utf-8")
    settings = ephemeral_settings(root / "data")
    settings.governance.packs_dir = packs
    running = loop_thread.run(start_mesh(settings), timeout=180)
    yield running
    loop_thread.run(running.stop())


def test_a_yes_to_an_offer_never_shown_takes_nothing_up(withholding_mesh: Mesh) -> None:
    mesh, session = withholding_mesh, "offer-withheld-1"
    news = turn(mesh, session, "is flight UA 123 on time?", CUSTOMER)
    text = reply(news)
    assert WITHHELD in text and "another flight" not in text, text
    assert session_of(mesh, session).offered_intent == ""

    answered = turn(mesh, session, "yes please", CUSTOMER)
    plans = [e.plan.plan.flow for e in answered if e.WhichOneof("event") == "plan"]
    assert "rebook_flight" not in plans, plans
    assert "searchFlights" not in finished(answered)
