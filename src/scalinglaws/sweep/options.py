"""What every local worker or Ray task needs to train a run besides its spec
(:class:`RunOptions`, picklable), and what the runner reports of a finished run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scalinglaws.sweep.specs import RunSpec

#: ``on_result(run_id, outcome, error)``: a run finished (``error`` None) or failed.
Callback = Callable[[str, "dict[str, Any] | None", "str | None"], None]


@dataclass(frozen=True)
class RunOptions:
    """What every worker or task needs besides the spec (picklable)."""

    device: str
    threads: int
    checkpoint_root: str | None
    checkpoint_every: int | None
    keep_checkpoints: bool
    compile: bool | str
    peak_flops: float | None
    branch_points: dict[str, frozenset[int]] = field(default_factory=dict)

    def run_dir(self, run_id: str) -> Path | None:
        return None if self.checkpoint_root is None else Path(self.checkpoint_root) / run_id

    def train(self, spec: RunSpec, progress: Any = False,
              owner: dict[str, object] | None = None) -> Any:
        from scalinglaws.sweep.checkpoint import branch_point
        from scalinglaws.sweep.train import train

        parent = self.run_dir(spec.parent) if spec.parent else None
        return train(spec, device=self.device, threads=self.threads, progress=progress,
                     checkpoint_dir=self.run_dir(spec.run_id),
                     checkpoint_every=self.checkpoint_every,
                     final_checkpoint=self.keep_checkpoints, compile=self.compile,
                     peak_flops=self.peak_flops, owner=owner,
                     keep_steps=self.branch_points.get(spec.run_id, frozenset()),
                     branch_from=None if parent is None else branch_point(parent,
                                                                          spec.branch_step))

    def finished(self, run_id: str) -> None:
        """The run is in the store: drop its checkpoints unless asked to keep them (a
        trunk's go once its branches are done: :func:`~scalinglaws.sweep.backends.run_sweep` sees to it)."""
        folder = self.run_dir(run_id)
        if folder is not None and not self.keep_checkpoints and run_id not in self.branch_points:
            from scalinglaws.sweep import checkpoint

            checkpoint.remove(folder)


def outcome(row: dict[str, object]) -> dict[str, Any]:
    """What the sweep bar and the report need from a finished run's row."""
    return {key: row.get(key) for key in ("loss", "mfu", "tokens_per_second",
                                          "resumed_from_step")}


def replace_threads(options: RunOptions, threads: int) -> RunOptions:
    """``options`` with ``threads`` torch threads per run."""
    return replace(options, threads=threads)
