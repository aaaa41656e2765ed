"""`python -m loadtest run --students N --duration S ...` (see loadtest/run.py)."""
import sys

import locust  # noqa: F401  (first: it patches the standard library for gevent before anything imports ssl)

from .run import main

sys.exit(main())
