"""How bad values are shown and secrets masked in messages."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from charmed_octavia.cloud import outcomes


def test_shown_cuts_a_long_value_and_says_how_long_it_was():
    text = outcomes.shown("x" * 10_000)
    assert len(text) < 100
    assert "10000 characters" in text


@pytest.mark.parametrize(
    "form",
    [
        lambda s: s,
        lambda s: quote(s, safe=""),
        lambda s: quote(s),
        lambda s: quote_plus(s),
        lambda s: s.replace("$", "$$"),
    ],
    ids=["plain", "quoted", "quoted-keep-slash", "quote-plus", "oslo-dollars"],
)
def test_redact_masks_every_form_a_secret_takes_in_a_message(form):
    # Arrange
    secret = "p@ss w/rd$x%"
    text = f"OperationalError: mysql+pymysql://octavia:{form(secret)}@10.0.0.1/octavia"

    # Act
    redacted = outcomes.redact(text, [secret, ""])

    # Assert
    assert redacted == "OperationalError: mysql+pymysql://octavia:***@10.0.0.1/octavia"


def test_redact_leaves_text_without_secrets_alone():
    assert outcomes.redact("nothing to hide", ["", "secret"]) == "nothing to hide"
