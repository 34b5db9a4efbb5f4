"""Progress of a sweep: the hook a training run reports each step to (:func:`reporter`),
and the bars the local runner draws (:class:`Bars`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from scalinglaws.sweep.hardware import progress_postfix
from scalinglaws.sweep.specs import RunSpec

#: ``progress(steps_done, n_steps, last_training_loss, mfu)``, called after every step;
#: the loss and MFU (over the last :data:`~scalinglaws.sweep.train.CHECK_EVERY` steps)
#: are None until known.
Progress = Callable[[int, int, "float | None", "float | None"], None]


def reporter(spec: RunSpec, progress: bool | Progress, position: int,
             start_step: int) -> Progress:
    """The per-step progress hook: a callback, a tqdm bar (True), or nothing."""
    if callable(progress):
        def forward(done: int, total: int, loss: float | None, mfu: float | None) -> None:
            if done >= 0:
                progress(done, total, loss, mfu)
        return forward
    if not progress:
        return lambda done, total, loss, mfu: None
    from tqdm.auto import tqdm

    bar = tqdm(total=spec.n_steps * spec.tokens_per_step,
               initial=start_step * spec.tokens_per_step, unit="tok", unit_scale=True,
               desc=f"run {spec.run_id[:8]}", position=position, leave=False,
               dynamic_ncols=True)

    def update(done: int, total: int, loss: float | None, mfu: float | None) -> None:
        if done < 0:
            bar.close()
            return
        bar.update(spec.tokens_per_step)
        if loss is not None:
            bar.set_postfix(progress_postfix(loss, mfu), refresh=False)
    return update


class Bars:
    """The sweep's bar (runs done, ETA, last loss and MFU) and one bar per local worker.

    Only the parent process draws, so bars never interleave, and :meth:`close` leaves the
    terminal clean whatever stopped the sweep.
    """

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.enabled = enabled
        self._workers: dict[int, Any] = {}
        self._sweep: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
            self._sweep = tqdm(total=total, initial=initial, unit="run", desc="sweep",
                               position=0, dynamic_ncols=True)

    def write(self, message: str) -> None:
        if self._sweep is not None:
            self._sweep.write(message, file=sys.stderr)

    def run_finished(self, outcome: dict[str, Any] | None, n_failed: int) -> None:
        if self._sweep is None:
            return
        postfix = {"last_loss": "failed" if not outcome else f"{outcome['loss']:.3f}",
                   "failed": n_failed}
        if outcome and outcome.get("mfu") is not None:
            postfix["mfu"] = f"{100 * outcome['mfu']:.1f}%"
        if outcome and outcome.get("tokens_per_second"):
            postfix["tok/s"] = f"{outcome['tokens_per_second']:,.0f}"
        self._sweep.update(1)
        self._sweep.set_postfix(postfix)

    def worker_started(self, worker: int, spec: RunSpec) -> None:
        if not self.enabled:
            return
        self.worker_idle(worker)
        self._workers[worker] = self._tqdm(
            total=spec.n_steps * spec.tokens_per_step, unit="tok", unit_scale=True,
            desc=f"run {spec.run_id[:8]}", position=worker + 1, leave=False,
            dynamic_ncols=True)
        self._workers[worker].tokens_per_step = spec.tokens_per_step

    def worker_progress(self, worker: int, done: int, total: int, loss: float | None,
                        mfu: float | None) -> None:
        bar = self._workers.get(worker)
        if bar is None:
            return
        bar.update(done * bar.tokens_per_step - bar.n)
        bar.set_postfix(progress_postfix(loss, mfu), refresh=False)

    def worker_idle(self, worker: int) -> None:
        bar = self._workers.pop(worker, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        for worker in list(self._workers):
            self.worker_idle(worker)
        if self._sweep is not None:
            self._sweep.close()
            self._sweep = None
