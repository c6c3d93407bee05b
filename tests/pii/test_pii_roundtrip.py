"""Properties of masking over generated PII-laden texts: nothing detected leaks, restore inverts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.pii.config import PiiSettings
from services.pii.masking import Masker
from services.pii.service import build_detector, masked_types
from services.pii.vault import InMemoryVaultStore, Vault, load_key, new_key

VALUES = {
    "CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004", "4131034282458809939"],
    "EMAIL": ["anna.berg@example.com", "UtaKortig@jourrapide.com"],
    "IBAN": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"],
    "PHONE": ["+44 20 7946 0958", "(415) 555-2671"],
    "SSN": ["460-89-9847"],
}
FILLERS = [
    "my card is",
    "please email",
    "and also",
    "transfer to",
    "call me on",
    "my SSN:",
    "thanks, that is all.",
    "Is flight UA 123 on time?",
]

pieces = st.lists(
    st.one_of(
        st.sampled_from(FILLERS).map(lambda f: ("", f)),
        st.sampled_from([(t, v) for t, vs in VALUES.items() for v in vs]),
    ),
    min_size=1,
    max_size=8,
)

MASKER = Masker(
    build_detector(PiiSettings()),
    Vault(InMemoryVaultStore(), load_key(new_key()), ttl_s=3600),
)


@settings(max_examples=60, deadline=None)
@given(pieces)
def test_masking_hides_every_value_and_restore_inverts_it(
    parts: list[tuple[str, str]],
) -> None:
    text = " ".join(value for _, value in parts)
    session = f"prop-{abs(hash(text))}"
    (found,) = MASKER.detect([text])
    masked = MASKER.mask(session, text, found)
    for entity_type, value in parts:
        if entity_type:
            assert value not in masked.text, (value, masked.text)
    restored, refused = MASKER.restore(session, {"t": masked.text}, masked_types(PiiSettings()))
    assert refused == []
    assert restored == {"t": text}
