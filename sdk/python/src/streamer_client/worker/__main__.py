"""Command line: ``python -m streamer_client.worker module:attr --url URL --token JWT``.

``module:attr`` names a :class:`StreamerWorker` (or a zero-argument callable that
returns one) whose handlers are already registered; the URL and token given here
replace any the object was built with. The token may also come from the
``STREAMER_WORKER_TOKEN`` environment variable or ``--token-file`` (which keeps it
out of the process list). Exit status: 0 after a graceful shutdown (SIGTERM,
SIGINT), 1 when the server refuses the worker, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from pathlib import Path

from ..errors import StreamerError
from .worker import StreamerWorker


def load_worker(target: str) -> StreamerWorker:
    """Imports ``module:attr`` (``attr`` may be dotted) from the current
    directory or ``sys.path`` and returns the worker it names."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected module:attribute, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, StreamerWorker) and callable(obj):
        obj = obj()
    if not isinstance(obj, StreamerWorker):
        raise ValueError(f"{target} is a {type(obj).__name__}, not a StreamerWorker")
    return obj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamer_client.worker",
                                     description="Serve Streamer actions with the handlers of a StreamerWorker.")
    parser.add_argument("target", help="module:attribute of the StreamerWorker, e.g. myapp.workers:worker")
    parser.add_argument("--url", help="stage URL, e.g. ws://localhost:8080/production (default: the worker's own)")
    parser.add_argument("--token", help="worker JWT (default: $STREAMER_WORKER_TOKEN)")
    parser.add_argument("--token-file", type=Path, help="read the worker JWT from this file")
    parser.add_argument("--shutdown-grace", type=float, help="seconds jobs in flight get to finish on SIGTERM")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ... (default INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        worker = load_worker(args.target)
    except (ImportError, AttributeError, ValueError) as e:
        parser.error(f"cannot load {args.target}: {e}")
    token = args.token
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
    token = token or os.environ.get("STREAMER_WORKER_TOKEN") or None
    worker.configure(url=args.url, token=token)
    if args.shutdown_grace is not None:
        worker.shutdown_grace = args.shutdown_grace
    try:
        asyncio.run(worker.run())
    except StreamerError as e:
        logging.getLogger("streamer_client.worker").error("worker refused: %s %s", e, e.details)
        return 1
    except ValueError as e:
        parser.error(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
