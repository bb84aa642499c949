"""Remote workers: serve Streamer actions from Python (see docs/workers.md).

Run a worker with ``await worker.run()`` or from the command line::

    python -m streamer_client.worker myapp.workers:worker --url ws://localhost:8080/production --token $JWT
"""
from __future__ import annotations

from .job import Job, JobError
from .lane import RegistrationError
from .spec import ActionSpec, Handler
from .worker import StreamerWorker, worker_url

__all__ = ["StreamerWorker", "Job", "JobError", "ActionSpec", "Handler", "RegistrationError", "worker_url"]
