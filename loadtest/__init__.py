"""Test-day load: `python -m loadtest run` (run.py) and the locust scenario (scenario.py, locustfile.py).

The load talks HTTP only, as browsers do; the stack is set up with the `ctcensus` command as a
subprocess (stack.py), and the referee (referee.py) reads the database after the run to check
that every acknowledged answer was stored. Nothing here imports the app.
"""
