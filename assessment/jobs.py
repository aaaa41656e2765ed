"""Background jobs on Redis (RQ): the queue long research runs go to, and the worker `ctcensus serve` starts.

The queue lives in the Redis of `REDIS_URL`, or the embedded one (a real
redis-server, so RQ works on it unchanged). Its name carries the instance's key
prefix (`CTCENSUS_REDIS_PREFIX`, default `ctc:`), so instances and test runs
sharing one Redis never take each other's jobs. The job itself only knows a
run id: the run's row in SQL holds its request, progress and outcome.
"""
from __future__ import annotations

import os
import re

import redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from .config import Settings
from .hotstate import embedded_redis_url

__all__ = ["JOB_TIMEOUT_SECONDS", "calibration_job", "calibration_job_failure", "calibration_queue",
           "enqueue_calibration", "queue_name", "run_worker", "workers_listening"]

JOB_TIMEOUT_SECONDS = 4 * 3600


def queue_name() -> str:
    """This instance's queue of research runs."""
    return f"{os.environ.get('CTCENSUS_REDIS_PREFIX', 'ctc:')}research"


def _connection(settings: Settings) -> redis.Redis:
    # RQ stores pickled bytes: no decode_responses (unlike the hot-state client)
    return redis.Redis.from_url(settings.redis_url or embedded_redis_url(settings.instance_path))


def calibration_queue(settings: Settings) -> Queue:
    """The RQ queue research runs go to."""
    return Queue(queue_name(), connection=_connection(settings), default_timeout=JOB_TIMEOUT_SECONDS)


def workers_listening(settings: Settings) -> int:
    """How many live workers take jobs from the queue."""
    queue = calibration_queue(settings)
    return int(Worker.count(queue=queue))


def _job_id(run_id: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', queue_name())}-calibration-{run_id}"


def enqueue_calibration(settings: Settings, run_id: int) -> str:
    """Queue a recorded calibration run; returns the job id."""
    # the run's row in SQL keeps the outcome: the job is dropped once done (kept a day when it crashed)
    job = calibration_queue(settings).enqueue(calibration_job, run_id, job_id=_job_id(run_id),
                                              description=f"calibration run {run_id}", result_ttl=0,
                                              failure_ttl=86400)
    return str(job.id)


def calibration_job_failure(settings: Settings, run_id: int) -> str | None:
    """Why the worker's job of a run failed outside the run's own handling (e.g. its process was killed), or None.

    The run records its own errors; only a job that died (out of memory, killed, timed
    out) leaves its run `running`, and RQ then holds the job as failed.
    """
    try:
        job = Job.fetch(_job_id(run_id), connection=_connection(settings))
    except NoSuchJobError:
        return None
    if job.get_status() not in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return None
    result = job.latest_result()
    lines = (result.exc_string or "").strip().splitlines() if result is not None else []
    return f"the worker's job ended without finishing the run: {lines[-1] if lines else 'failed'}"


def calibration_job(run_id: int) -> str:
    """What the worker runs: the calibration run `run_id` to its end; returns its final status."""
    from .calibration_runs import execute_run
    from .db import make_engine, make_session_factory

    settings = Settings.load()
    engine = make_engine(settings.database_url)
    try:
        return str(execute_run(make_session_factory(engine), run_id, secret_key=settings.secret_key))
    finally:
        engine.dispose()


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Take jobs from the queue until stopped (`burst`: until the queue is empty)."""
    queue = calibration_queue(settings)
    name = f"{re.sub(r'[^A-Za-z0-9_-]', '-', queue_name())}-{os.uname().nodename}-{os.getpid()}"
    Worker([queue], connection=queue.connection, name=name).work(
        burst=burst, with_scheduler=False, logging_level="WARNING")
