"""gunicorn configuration as code: threaded workers, graceful restarts, sane timeouts."""
import os

worker_class = "gthread"
threads = int(os.environ.get("CTCENSUS_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# A leak guard, not a routine: at test-day load (~300 requests/s) 5,000 restarted each worker every
# half minute, dropping its keep-alive connections (clients saw connection errors) and its caches.
max_requests = 200_000
max_requests_jitter = 20_000
accesslog = os.environ.get("CTCENSUS_ACCESS_LOG", None)
errorlog = "-"
preload_app = False
