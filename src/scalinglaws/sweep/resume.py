"""Resuming a run: from its own newest checkpoint, or a branch from its parent's.

:func:`restore` loads model, optimizer, RNG states, the curve so far and the noise-scale
sums into a freshly built run, after checking the checkpoint belongs to this run and this
data (:func:`usable`); :func:`rng_state` is what a checkpoint records of the RNGs.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalinglaws.errors import ScalingLawsWarning
from scalinglaws.sweep import checkpoint
from scalinglaws.sweep.data import Corpus
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.model import Transformer
from scalinglaws.sweep.noise import NoiseScale
from scalinglaws.sweep.result import CurvePoint
from scalinglaws.sweep.specs import RunSpec


def restore(spec: RunSpec, model: Transformer, optimizer: torch.optim.Optimizer,
            corpus: Corpus, device: torch.device, checkpoint_dir: Path | None,
            owner: dict[str, object], branch_from: Path | None
            ) -> tuple[int, list[CurvePoint], float, NoiseScale, int]:
    """Load the run's newest usable checkpoint (or, on a branch's first attempt, its
    parent's at ``spec.branch_step``) into ``model`` and ``optimizer`` and the RNGs.

    Returns ``(start_step, curve, seconds_before, noise, resumed_from)``: the step to
    continue from, the evaluations so far, the training seconds already spent, the noise
    scale's running sums, and the run's own checkpoint step (0 if none was used).
    """
    start_step, curve, seconds_before = 0, [], 0.0
    noise = NoiseScale()
    if checkpoint_dir is not None:
        checkpoint.write_owner(checkpoint_dir, run_id=spec.run_id, device=str(device), **owner)
        found = checkpoint.latest(checkpoint_dir, map_location=device)
        if found is not None and usable(found, spec, corpus):
            state = found[1]
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            set_rng_state(state["rng"])
            start_step, seconds_before = int(state["step"]), float(state["train_seconds"])
            curve = [CurvePoint(*point) for point in state["curve"]]
            noise = NoiseScale.from_state(state.get("noise"))
            del state
        del found  # its tensors are copied into the model and optimizer: free them
    resumed_from = start_step
    if spec.parent and start_step == 0:  # a branch's first attempt: the parent's state
        state = checkpoint.load_branch_point(branch_from, run_id=spec.run_id,
                                             parent=spec.parent, step=spec.branch_step,
                                             data_sha256=corpus.sha256, map_location=device)
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise SweepError(f"run {spec.run_id}: the checkpoint of parent run {spec.parent} "
                             f"does not fit this run's model ({str(exc).splitlines()[0]}); "
                             "a branch must have its parent's shape") from None
        set_rng_state(state["rng"])
        start_step = spec.branch_step
        curve = [CurvePoint(*point) for point in state["curve"]]
        del state
    return start_step, curve, seconds_before, noise, resumed_from


def usable(found: tuple[Path, dict[str, Any]], spec: RunSpec, corpus: Corpus) -> bool:
    """Whether a checkpoint belongs to this run and this data (else: warn, start over)."""
    path, state = found
    if state.get("run_id") != spec.run_id:
        reason = f"it belongs to run {state.get('run_id')}"
    elif state.get("data_sha256") != corpus.sha256:
        reason = "the data changed since it was written"
    elif not 0 < int(state.get("step", 0)) <= spec.n_steps:
        reason = f"its step {state.get('step')} is outside the run's {spec.n_steps} steps"
    else:
        return True
    warnings.warn(f"run {spec.run_id}: ignoring checkpoint {path} ({reason}); training "
                  "from scratch", ScalingLawsWarning, stacklevel=4)
    return False


def rng_state(device: torch.device) -> dict[str, object]:
    """Every RNG the run uses, as tensors and plain values (for weights_only loading)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    assert isinstance(keys, np.ndarray)  # the legacy tuple form: (name, keys, pos, ...)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached_gaussian": cached},
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the RNGs from what :func:`rng_state` recorded."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].cpu().numpy().astype(np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
