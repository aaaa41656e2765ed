"""The live server and the small class with tickets, shared with the browser tests."""
from ..live import demo_test, live_server  # noqa: F401  (fixtures)
