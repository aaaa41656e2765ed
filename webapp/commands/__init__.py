"""Click commands for admin jobs, registered on the ``ctcensus`` group in ``webapp/cli.py``."""
