"""What the training loop is built with: AdamW's parameter groups, and the numerics
settings of the device (deterministic on the CPU, TF32 on CUDA)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from scalinglaws.sweep import mup
from scalinglaws.sweep.model import Transformer
from scalinglaws.sweep.specs import RunSpec


def adamw(model: Transformer, spec: RunSpec, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on LayerNorm gains); under muP, the
    groups of :func:`scalinglaws.sweep.mup.param_groups`."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": spec.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    if spec.parametrization == "mup":
        groups = mup.param_groups(model, spec.weight_decay)
    try:  # the fused kernel is fastest; torch < 2.4 has it on CUDA only
        return torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)
    except RuntimeError:
        return torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.95), eps=1e-8)


@contextlib.contextmanager
def numerics(device: torch.device) -> Iterator[None]:
    """CPU: deterministic algorithms. CUDA: TF32 matmuls. Restored after the block."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    precision = torch.get_float32_matmul_precision()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_float32_matmul_precision(precision)
