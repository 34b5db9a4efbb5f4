"""Progress of a sweep: the hook a training run reports each step to (:func:`reporter`)."""

from __future__ import annotations

from collections.abc import Callable

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
