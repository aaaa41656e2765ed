"""gunicorn configuration as code: threaded workers, graceful restarts, sane timeouts."""
import os

worker_class = "gthread"
threads = int(os.environ.get("CTCENSUS_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = os.environ.get("CTCENSUS_ACCESS_LOG", None)
errorlog = "-"
preload_app = False
