"""The BullMQ Python worker (PyPI `bullmq`) of the remote-worker comparison: a no-op
processor on queue --queue with --concurrency jobs at a time, on the Redis at
--redis-port. Stops on SIGTERM (or after --max-seconds).

    bench/.venv-peers/bin/python bench/peers/bullmq_noop_worker.py --queue bench-noop \
        --redis-port 19108 --concurrency 64
"""
import argparse
import asyncio
import signal

from bullmq import Worker


async def noop(job, token):
    return {"ok": True}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", default="bench-noop")
    ap.add_argument("--redis-port", type=int, default=6391)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    worker = Worker(args.queue, noop, {"connection": f"redis://127.0.0.1:{args.redis_port}",
                                       "concurrency": args.concurrency})
    try:
        await asyncio.wait_for(stopped.wait(), args.max_seconds)
    except asyncio.TimeoutError:
        pass
    await worker.close()


if __name__ == "__main__":
    asyncio.run(main())
