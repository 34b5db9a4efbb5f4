"""Held-out evaluation of a run, and the check that stops a diverged one."""

from __future__ import annotations

import contextlib
import math

import torch
from torch.nn import functional as F

from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.model import Transformer
from scalinglaws.sweep.specs import RunSpec

EVAL_BATCH = 64  # sequences per evaluation forward pass


@torch.no_grad()
def evaluate(model: Transformer, windows: torch.Tensor,
             autocast: contextlib.AbstractContextManager[object]) -> float:
    """Mean cross-entropy (nats per token) over the held-out windows (never compiled:
    its batch shape differs from training's, and it runs rarely)."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=windows.device)
    for batch in windows.split(EVAL_BATCH):
        with autocast:
            logits = model(batch[:, :-1])
        total += F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten(),
                                 reduction="sum").double()
    model.train()
    return float(total) / (windows.shape[0] * (windows.shape[1] - 1))


def check_finite(spec: RunSpec, step: int, loss: float) -> None:
    """Stop a diverged run early, with the fix in the message."""
    if not math.isfinite(loss):
        raise SweepError(f"run {spec.run_id} diverged (loss {loss} at step {step}); "
                         f"lower its lr ({spec.lr:g}) in the design file")
