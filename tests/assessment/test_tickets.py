import pytest

from assessment.errors import Unauthorized
from assessment.tickets import (
    ALPHABET,
    TICKET_LENGTH,
    format_ticket,
    generate_ticket,
    issue_token,
    normalize_ticket,
    read_token,
)


def test_alphabet_has_no_look_alikes_and_tickets_are_random() -> None:
    assert not set("0O1I") & set(ALPHABET) and len(set(ALPHABET)) == len(ALPHABET) == 32
    tickets = {generate_ticket() for _ in range(2000)}
    assert len(tickets) == 2000
    assert all(len(t) == TICKET_LENGTH and set(t) <= set(ALPHABET) for t in tickets)


def test_normalize_accepts_what_children_type() -> None:
    assert normalize_ticket(" abcd-efgh ") == "ABCDEFGH"
    assert normalize_ticket("abcd efgh") == "ABCDEFGH"
    assert normalize_ticket("ABCD-EFG") == ""          # too short
    assert normalize_ticket("ABCD-EFG0") == ""         # 0 is not in the alphabet
    assert normalize_ticket("<script>") == ""
    assert format_ticket("ABCDEFGH") == "ABCD-EFGH"


def test_token_round_trip_and_tampering() -> None:
    token = issue_token("k" * 20, 42, 3)
    claims = read_token("k" * 20, token)
    assert (claims.attempt_id, claims.token_version) == (42, 3)
    with pytest.raises(Unauthorized):
        read_token("other-secret-key-xx", token)
    with pytest.raises(Unauthorized):
        read_token("k" * 20, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(Unauthorized):
        read_token("k" * 20, "not-a-token")
