"""Agreement in a word or two makes the change that waits for the customer's yes, through the
whole mesh; small talk with the same words in it does not.

"fine" alone used to read as a greeting (0.60, "Hello! How can I help you today?"), "works for
me" as thanks, and "that's fine" as a yes too unsure to act on.
"""

from __future__ import annotations

import pytest
from test_mesh_scenarios import finished, intent, reply
from wallet_customers import AskedWithdrawal, withdrawals_made

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2


def _makes_it(mesh: Mesh, asked: AskedWithdrawal, text: str) -> list[events_pb2.TurnEvent]:
    """Say ``text`` and check it made the waiting withdrawal, and only it."""
    made = asked.say(text)
    assert finished(made)["createWithdrawal"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert withdrawals_made(mesh) == asked.made_before + 1
    return made


def _turns_it_down(mesh: Mesh, asked: AskedWithdrawal, text: str) -> None:
    """Say ``text`` and check it dropped the withdrawal: a yes after it makes nothing."""
    declined = asked.say(text)
    assert reply(declined).startswith("Alright, I won't go ahead with that."), reply(declined)
    after = asked.say("yes")
    assert "createWithdrawal" not in finished(after)
    assert withdrawals_made(mesh) == asked.made_before


@pytest.mark.parametrize("agreed", ["fine", "that's fine", "fine by me", "works for me"])
def test_a_short_agreement_makes_the_change(
    mesh: Mesh, asked: AskedWithdrawal, agreed: str
) -> None:
    made = _makes_it(mesh, asked, agreed)
    assert intent(made) == "confirm", reply(made)
    assert "Not yet" not in reply(made) and "Hello!" not in reply(made)


def test_fine_in_small_talk_is_no_yes(mesh: Mesh, asked: AskedWithdrawal) -> None:
    # A thank-you is an aside: the change still waits, and a yes after it makes it.
    for aside in ("I'm fine, thanks", "fine, thanks"):
        said = asked.say(aside)
        assert intent(said) == "thanks", (aside, reply(said))
        assert "createWithdrawal" not in finished(said)
    assert withdrawals_made(mesh) == asked.made_before
    _makes_it(mesh, asked, "works for me")


def test_im_fine_turns_the_change_down(mesh: Mesh, asked: AskedWithdrawal) -> None:
    # "I'm fine" to "shall I go ahead?" means no need.
    _turns_it_down(mesh, asked, "I'm fine")


def test_the_y_of_a_yes_no_prompt_makes_the_change(mesh: Mesh, asked: AskedWithdrawal) -> None:
    # "y" alone reads as a greeting (0.83): the router reads the prompt's shorthand itself.
    _makes_it(mesh, asked, "Y")
    # With nothing waiting any more, "y" is no answer to anything: nothing more is made.
    again = asked.say("y")
    assert "createWithdrawal" not in finished(again)
    assert withdrawals_made(mesh) == asked.made_before + 1


def test_the_n_of_a_yes_no_prompt_turns_the_change_down(mesh: Mesh, asked: AskedWithdrawal) -> None:
    _turns_it_down(mesh, asked, "n")
