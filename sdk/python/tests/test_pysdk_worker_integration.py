"""StreamerWorker against the real `build/streamer`: Python workers (in-process and
through `python -m streamer_client.worker`) and a TypeScript worker serve actions
that StreamerClient submits. Skipped when the binary has not been built."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pysdk_paths import PYSDK_WORKER_FLAGS, REPO_ROOT
from streamer_client import (
    Job,
    RequestCancelledError,
    StreamerClient,
    StreamerWorker,
    ValidationError,
    new_request_id,
)

SRC = Path(__file__).resolve().parents[1] / "src"
TS_DIST = REPO_ROOT / "sdk" / "typescript" / "dist" / "index.js"
WORKER_FLAGS = pytest.mark.pysdk_server_args(*PYSDK_WORKER_FLAGS)

SCHEMA = {"type": "object", "required": ["w"], "additionalProperties": False,
          "properties": {"w": {"type": "integer", "minimum": 1}, "ms": {"type": "integer"}}}


def client_for(server) -> StreamerClient:
    return StreamerClient(endpoint=server.url, token=server.token(), reconnect_base_delay=0.2)


async def wait_until(pred, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def registered_worker(worker: StreamerWorker, server, action: str) -> asyncio.Task[None]:
    """Runs ``worker`` and returns once the server knows ``action`` (a request for
    an unregistered action would be INVALID_ACTION)."""
    task = asyncio.create_task(worker.run(handle_signals=False))
    await wait_until(lambda: any(lane.lease_ttl_ms for lane in worker._lanes) or task.done(), what="registration")
    if task.done():
        task.result()
    return task


@WORKER_FLAGS
async def test_python_worker_serves_a_python_client_with_progress_and_result(pysdk_server):
    worker = StreamerWorker(pysdk_server.url, token=pysdk_server.worker_token("pysdk_scale"), progress_interval=0)
    jobs: list[Job] = []

    @worker.handler("pysdk_scale", schema=SCHEMA, estimated_duration=2000, time_limit=20000)
    async def scale(job: Job) -> dict:
        jobs.append(job)
        await job.report_progress(40, "scaling", {"current_step": "scale"})
        await asyncio.sleep(0.3)  # let the progress reach the client before the result
        return {"scaled": job.payload["w"] * 2}

    task = await registered_worker(worker, pysdk_server, "pysdk_scale")
    progress: list[dict] = []
    async with client_for(pysdk_server) as client:
        data = await client.request("pysdk_scale", {"w": 21}, on_progress=progress.append, timeout=30)
        assert data == {"scaled": 42}
        assert [p["progress"] for p in progress][:1] == [40] and progress[0]["message"] == "scaling"
        assert jobs[0].identity["user_id"] == "pysdk-user" and jobs[0].identity["tenant_id"] == "pysdk-tenant"
        assert jobs[0].attempt == 1

        # A payload that breaks the schema never reaches the worker.
        with pytest.raises(ValidationError) as ei:
            await client.request("pysdk_scale", {"w": 0})
        assert ei.value.details["field"] == "w"
        assert len(jobs) == 1
    worker.shutdown()
    await asyncio.wait_for(task, 10)


@WORKER_FLAGS
async def test_a_client_cancel_reaches_the_handler_within_250_ms(pysdk_server):
    worker = StreamerWorker(pysdk_server.url, token=pysdk_server.worker_token("pysdk_wait"))
    started = asyncio.Event()
    cancelled_at: list[float] = []

    @worker.handler("pysdk_wait", time_limit=60000)
    async def wait(job: Job) -> dict:
        started.set()
        try:
            await asyncio.Event().wait()  # waits for the cancel
        except asyncio.CancelledError:
            cancelled_at.append(time.monotonic())
            raise
        return {}

    task = await registered_worker(worker, pysdk_server, "pysdk_wait")
    async with client_for(pysdk_server) as client:
        rid = new_request_id()
        pending = asyncio.create_task(client.request("pysdk_wait", {}, request_id=rid))
        await asyncio.wait_for(started.wait(), 10)
        sent = time.monotonic()
        await client.cancel(rid)
        with pytest.raises(RequestCancelledError):
            await asyncio.wait_for(pending, 10)
        await wait_until(lambda: bool(cancelled_at), 2, "the handler's CancelledError")
        assert cancelled_at[0] - sent < 0.25, f"cancel reached the handler after {cancelled_at[0] - sent:.3f}s"
    assert worker.in_flight == 0
    worker.shutdown()
    await asyncio.wait_for(task, 10)


CLI_WORKER = """
import asyncio, os
from streamer_client import StreamerWorker

worker = StreamerWorker()

@worker.handler("pysdk_crashy", max_attempts=3, time_limit=30000)
async def crashy(job):
    with open(os.environ["STARTS_LOG"], "a") as f:
        f.write(f"{job.job_id} {job.attempt} {os.getpid()}\\n")
    await job.report_progress(10, f"attempt {job.attempt} on {os.getpid()}")
    await asyncio.sleep(job.payload["ms"] / 1000)  # the job's work: waiting, as delay does
    return {"pid": os.getpid(), "attempt": job.attempt}
"""


def start_cli_worker(server, module_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{module_dir}", "STARTS_LOG": str(log),
           "STREAMER_WORKER_TOKEN": server.worker_token("pysdk_crashy")}
    return subprocess.Popen([sys.executable, "-m", "streamer_client.worker", "crashy_worker:worker",
                             "--url", server.url, "--log-level", "WARNING"],
                            cwd=module_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def starts(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


@WORKER_FLAGS
async def test_kill_9_of_a_worker_mid_job_retries_it_on_another_worker_and_it_ends_once(pysdk_server, tmp_path):
    (tmp_path / "crashy_worker.py").write_text(textwrap.dedent(CLI_WORKER))
    log = tmp_path / "starts.log"
    first = start_cli_worker(pysdk_server, tmp_path, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        results: list[dict] = []
        progress: list[str] = []
        async with client_for(pysdk_server) as client:
            # The action is known once the first worker registered.
            rid = new_request_id()
            for _ in range(200):
                try:
                    pending = asyncio.create_task(client.request(
                        "pysdk_crashy", {"ms": 1500}, request_id=rid, timeout=60,
                        on_progress=lambda p: progress.append(p.get("message", ""))))
                    await wait_until(lambda: bool(starts(log)) or pending.done(), 5, "the first attempt")
                    if pending.done():
                        pending.result()
                    break
                except Exception as e:  # INVALID_ACTION until the worker has registered
                    if getattr(e, "code", None) != "INVALID_ACTION":
                        raise
                    rid = new_request_id()
                    await asyncio.sleep(0.1)
            assert starts(log) == [[starts(log)[0][0], "1", str(first.pid)]]
            second = start_cli_worker(pysdk_server, tmp_path, log)
            await asyncio.sleep(0.3)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            results.append(await asyncio.wait_for(pending, 60))
            await asyncio.sleep(1.5)  # another lease period: nothing runs it again
            stored = await client.subscribe(rid)  # the durable outcome
        assert results == [{"pid": second.pid, "attempt": 2}]
        runs = starts(log)
        assert [(r[1], r[2]) for r in runs] == [("1", str(first.pid)), ("2", str(second.pid))], runs
        assert any(m.startswith("attempt 1") for m in progress)
        assert stored == results[0]
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)


@WORKER_FLAGS
async def test_sigterm_lets_a_cli_worker_finish_its_job_then_exit_0(pysdk_server, tmp_path):
    (tmp_path / "crashy_worker.py").write_text(textwrap.dedent(CLI_WORKER))
    log = tmp_path / "starts.log"
    proc = start_cli_worker(pysdk_server, tmp_path, log)
    try:
        async with client_for(pysdk_server) as client:
            pending = None
            for _ in range(200):
                pending = asyncio.create_task(client.request("pysdk_crashy", {"ms": 1000}, timeout=60))
                await wait_until(lambda: bool(starts(log)) or pending.done(), 5, "the job to start")
                if not pending.done():
                    break
                with pytest.raises(Exception) as ei:
                    pending.result()
                assert getattr(ei.value, "code", None) == "INVALID_ACTION"
                await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(pending, 30) == {"pid": proc.pid, "attempt": 1}
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


TS_WORKER = """
import { StreamerWorker } from %(dist)s;
const worker = new StreamerWorker({ url: process.env.URL, token: process.env.TOKEN, progressIntervalMs: 0 });
worker.handle('pysdk_ts_upper', { schema: { type: 'object', required: ['text'] } }, async (job) => {
  job.reportProgress(50, 'upper-casing');
  await new Promise((r) => setTimeout(r, 300));
  return { upper: job.payload.text.toUpperCase(), by: 'typescript' };
});
await worker.run();
"""


@WORKER_FLAGS
async def test_a_typescript_worker_serves_a_python_client(pysdk_server, tmp_path):
    node = shutil.which("node")
    if node is None or not TS_DIST.is_file():
        pytest.skip("needs node and sdk/typescript/dist (npm run build in sdk/typescript)")
    script = tmp_path / "ts_worker.mjs"
    script.write_text(TS_WORKER % {"dist": repr(TS_DIST.as_uri())})
    env = {**os.environ, "URL": pysdk_server.url, "TOKEN": pysdk_server.worker_token("pysdk_ts_upper")}
    proc = subprocess.Popen([node, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        progress: list[dict] = []
        data = None
        async with client_for(pysdk_server) as client:
            for _ in range(200):
                try:
                    data = await client.request("pysdk_ts_upper", {"text": "abc"}, on_progress=progress.append,
                                                timeout=30)
                    break
                except Exception as e:
                    if getattr(e, "code", None) != "INVALID_ACTION":
                        raise
                    await asyncio.sleep(0.1)
        if data is None and proc.poll() is not None:
            pytest.fail(f"the TypeScript worker exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
        assert data == {"upper": "ABC", "by": "typescript"}, "the TypeScript worker never registered"
        assert progress and progress[0]["progress"] == 50 and progress[0]["message"] == "upper-casing"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


DOC_FILES = (REPO_ROOT / "docs" / "workers.md", REPO_ROOT / "README.md")


def worker_example(doc: Path, lang: str) -> str:
    """The code block after ``<!-- worker-example:LANG -->`` in ``doc``."""
    found = re.search(rf"<!-- worker-example:{lang} -->\s*```{lang}\n(.*?)```", doc.read_text(), re.S)
    assert found, f"{doc.name} has no {lang} worker example"
    return found.group(1)


@WORKER_FLAGS
@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
async def test_the_documented_python_worker_runs_as_written(pysdk_server, tmp_path, doc):
    code = worker_example(doc, "python")
    assert len(code.strip().splitlines()) < 20
    script = tmp_path / "docs_worker.py"
    script.write_text(code.replace("ws://localhost:8080/production", pysdk_server.url))
    env = {**os.environ, "PYTHONPATH": str(SRC), "STREAMER_WORKER_TOKEN": pysdk_server.worker_token("count_words")}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        progress: list[dict] = []
        data = None
        async with client_for(pysdk_server) as client:
            for _ in range(200):
                try:
                    data = await client.request("count_words", {"text": "a bb ccc"}, on_progress=progress.append,
                                                timeout=30)
                    break
                except Exception as e:  # INVALID_ACTION until the worker has registered
                    if getattr(e, "code", None) != "INVALID_ACTION" or proc.poll() is not None:
                        raise
                    await asyncio.sleep(0.1)
            with pytest.raises(ValidationError):
                await client.request("count_words", {"text": 5})
        assert data == {"words": 3, "longest": "ccc"}
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
