"""Test-day load for interactive locust: the census scenario's students (loadtest/scenario.py), tickets from a file.

Talks HTTP only, as the player does: login, start, heartbeats, answers
(changed answers, re-sent saves, reloads), submit. Tickets come from
`ctcensus session create ... --json` output (one session, a list, or JSON
lines; `loadtest/prepare.sh` writes a list):
    loadtest/prepare.sh 5 1 40 > tickets.json
    CTCENSUS_TICKETS=tickets.json locust -f loadtest/locustfile.py --host http://127.0.0.1:5000 \
        --headless -u 1000 -r 100 -t 3m
Each simulated student thinks CTCENSUS_LOAD_WAIT seconds between answers
(default 10,30: the census pace) and submits once it has answered everything.
`python -m loadtest run` does all of this headless, with proctors and the
referee, on a stack it starts itself.
"""
from __future__ import annotations

import json
import os
from typing import Any

from locust import events

from loadtest.plan import parse_think
from loadtest.scenario import CensusState, StudentPlan
from loadtest.scenario import Student as CensusStudent


class Student(CensusStudent):
    """One student at a Chromebook (bound to the tickets at locust's init)."""


def read_tickets(path: str) -> list[str]:
    """Every ticket in `ctcensus session create --json` output: one document, a list, or JSON lines."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    decoder, pos, sessions = json.JSONDecoder(), 0, []
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        doc, pos = decoder.raw_decode(text, pos)
        sessions.extend(doc if isinstance(doc, list) else [doc])
    return [s["ticket"] for session in sessions for s in session["tickets"]]


@events.init.add_listener
def _bind(environment: Any, **_kw: Any) -> None:
    path = os.environ.get("CTCENSUS_TICKETS", "tickets.json")
    tickets = read_tickets(path)
    if not tickets:
        raise SystemExit(f"{path}: no tickets found (expected `ctcensus session create --json` output)")
    try:
        think = parse_think(os.environ.get("CTCENSUS_LOAD_WAIT", "10,30"), "CTCENSUS_LOAD_WAIT")
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    Student.state = CensusState([StudentPlan(t) for t in tickets], think=think)
