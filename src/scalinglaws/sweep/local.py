"""The local backend: spawned worker processes each train one run at a time.

Workers get ``cores // workers`` torch threads (GPUs taken round-robin) and write each
finished run to the store themselves (one transaction per run). They report progress to
the parent, which alone draws the progress bars. On Ctrl-C the parent stops them at once
and closes the bars. Cooldown branches are handed out once their parent is in the store
(:class:`~scalinglaws.sweep.branches.BranchOrder`).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from scalinglaws.sweep import store as sweep_store
from scalinglaws.sweep.branches import BranchOrder
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.options import Callback, RunOptions, outcome, replace_threads
from scalinglaws.sweep.progress import Bars
from scalinglaws.sweep.specs import RunSpec

_PROGRESS_EVERY_S = 0.25  # a worker reports progress at most this often


def run_local(specs: Sequence[RunSpec], store: Path, workers: int, options: RunOptions,
              bars: Bars, on_result: Callback) -> None:
    """Train ``specs`` in ``workers`` spawned processes; report each run to ``on_result``."""
    context = mp.get_context("spawn")
    if not options.threads:
        options = replace_threads(options, max(1, _cores() // workers))
    workers = min(workers, len(specs))
    by_id = {spec.run_id: spec for spec in specs}
    tasks: Any = context.Queue()
    results: Any = context.Queue()
    order = BranchOrder(specs)
    remaining = len(specs)

    def hand_out() -> None:
        for spec in order.take():
            tasks.put(spec)
        if order.left == 0 and not stopped:
            stopped.append(True)
            for _ in range(workers):
                tasks.put(None)  # one stop sign per worker

    def settle(run_id: str, ok: bool) -> None:
        nonlocal remaining
        for child in order.settle(run_id, ok):
            remaining -= 1
            on_result(child, None, f"its parent run {by_id[child].parent} failed")
        hand_out()

    stopped: list[bool] = []
    hand_out()
    procs = [context.Process(target=_local_worker, daemon=True, name=f"sweep-worker-{i}",
                             args=(i, tasks, results, str(store), options, bars.enabled))
             for i in range(workers)]
    running: dict[int, str] = {}  # worker -> run_id it is training
    try:
        with _sigint_ignored():  # inherited: workers ignore Ctrl-C from their first moment
            for proc in procs:
                proc.start()
        while remaining:
            try:
                kind, worker, run_id, payload = results.get(timeout=0.5)
            except queue.Empty:
                for i, proc in enumerate(procs):  # a worker killed from outside (OOM...)
                    if not proc.is_alive() and proc.exitcode not in (0, None) and i in running:
                        remaining -= 1
                        bars.worker_idle(i)
                        run_id = running.pop(i)
                        on_result(run_id, None, f"worker died (exit code "
                                  f"{proc.exitcode}); its checkpoint is kept, and running "
                                  "the sweep again resumes it")
                        settle(run_id, False)
                if not any(proc.is_alive() for proc in procs) and results.empty():
                    codes = sorted({proc.exitcode for proc in procs}, key=str)
                    raise SweepError(
                        f"every worker process exited (exit codes {codes}) with {remaining} "
                        "run(s) not done; finished runs are in the store, and running the "
                        "same command again resumes")
                continue
            if kind == "start":
                running[worker] = run_id
                bars.worker_started(worker, by_id[run_id])
            elif kind == "progress":
                bars.worker_progress(worker, *payload)
            else:
                running.pop(worker, None)
                remaining -= 1
                bars.worker_idle(worker)
                if kind == "done":
                    on_result(run_id, payload, None)
                else:
                    on_result(run_id, None, payload)
                settle(run_id, kind == "done")
    finally:
        tasks.cancel_join_thread()  # runs never handed out must not block our exit
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: a half-written transaction is rolled back
        for proc in procs:
            if proc.pid is not None:  # started
                proc.join()
        results.cancel_join_thread()
        for q in (tasks, results):  # release the queues' pipes and semaphores now
            q.close()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this block (main thread only), then restore the handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _local_worker(index: int, tasks: Any, results: Any, store: str, options: RunOptions,
                  progress: bool) -> None:
    """A worker process: train runs from ``tasks`` until a stop sign, write each one.

    It draws nothing itself: progress goes to the parent, which owns the terminal.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    import torch

    torch.set_num_threads(options.threads)
    if options.device != "cpu" and torch.cuda.is_available():  # GPUs round-robin
        torch.cuda.set_device(index % torch.cuda.device_count())
    parent = os.getppid()
    while (spec := tasks.get()) is not None:
        if os.getppid() != parent:  # the parent was killed: take no new run, just leave
            results.cancel_join_thread()
            return
        results.put(("start", index, spec.run_id, None))
        try:
            result = options.train(spec, progress=_progress_sender(results, index, spec.run_id)
                                   if progress else False)
            row, curve = result.to_row()
            sweep_store.write_run(store, row, curve)
        except Exception as exc:  # noqa: BLE001 - reported, the sweep goes on
            results.put(("failed", index, spec.run_id, f"{type(exc).__name__}: {exc}"))
        else:
            options.finished(spec.run_id)
            results.put(("done", index, spec.run_id, outcome(row)))


def _progress_sender(results: Any, index: int, run_id: str) -> Callable[..., None]:
    """A ``train`` progress hook that sends ``(steps, total, loss, mfu)`` a few times a second."""
    last = [0.0]

    def send(done: int, total: int, loss: float | None, mfu: float | None) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_EVERY_S or done == total:
            last[0] = now
            results.put(("progress", index, run_id, (done, total, loss, mfu)))
    return send


def _cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
