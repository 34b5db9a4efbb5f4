"""Devices: which one to train on, its peak FLOP/s, and the model FLOPs behind MFU.

MFU (model FLOPs utilisation) is ``model FLOPs per token x tokens per second / peak``.
The model FLOPs per token are the Chinchilla count (the ``exact`` convention: three
times a forward pass, attention included) without the input embedding, which runs as a
table lookup and not as a matmul; :mod:`benchmarks.train_speed` checks that count against
``torch.utils.flop_counter`` (within 3 % from 2 x 64 up). The peak is the device's dense
BF16 tensor-core rate from NVIDIA's datasheets for the GPUs in :data:`PEAK_BF16_FLOPS`,
or what ``--peak-flops`` says; otherwise (a CPU, an unlisted GPU) MFU is not reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.specs import RunSpec

if TYPE_CHECKING:
    import torch

#: Dense (no sparsity) BF16 tensor-core peak FLOP/s, matched in order against the CUDA
#: device name. ``None`` marks variants whose peak differs and is not listed.
PEAK_BF16_FLOPS: tuple[tuple[str, float | None], ...] = (
    ("H200 NVL", None),
    ("H200", 989.4e12),
    ("H100 NVL", None),
    ("H100 PCIe", 756.0e12),
    ("H100", 989.4e12),  # SXM
    ("A100", 312.0e12),
    ("L40S", 362.1e12),
    ("L4", 121.0e12),
    ("A10G", None),
    ("A10", 125.0e12),
)


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    SweepError
        For an unknown name, or ``"cuda"`` on a machine without a usable GPU.
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SweepError(
                "--device cuda was asked for, but torch sees no CUDA GPU "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
                "use --device cpu, or install a CUDA build of torch on a GPU machine"
            )
        return torch.device("cuda")
    raise SweepError(f"unknown device {device!r}; use auto, cpu or cuda")


def device_name(device: torch.device) -> str:
    """A readable name: ``"cpu"`` or the GPU's product name."""
    import torch

    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    return device.type


def peak_flops(device: torch.device) -> float | None:
    """The device's dense BF16 peak FLOP/s if it is a listed GPU, else None.

    Examples
    --------
    >>> import torch
    >>> peak_flops(torch.device("cpu")) is None
    True
    """
    if device.type != "cuda":
        return None
    return peak_flops_by_name(device_name(device))


def peak_flops_by_name(name: str) -> float | None:
    """Look a GPU's product name up in :data:`PEAK_BF16_FLOPS`.

    Examples
    --------
    >>> peak_flops_by_name("NVIDIA H100 80GB HBM3")
    989400000000000.0
    >>> peak_flops_by_name("NVIDIA H100 PCIe"), peak_flops_by_name("Tesla T4")
    (756000000000000.0, None)
    """
    for key, value in PEAK_BF16_FLOPS:
        if key in name:
            return value
    return None


def model_flops_per_token(spec: RunSpec) -> float:
    """Training FLOPs per token that MFU counts: ``exact`` without the embedding lookup.

    Examples
    --------
    >>> from scalinglaws.sweep import RunSpec
    >>> spec = RunSpec(budget=1.0, n_layer=2, d_model=64, n_head=4, n_tokens=1,
    ...                batch_size=1, lr=1e-3)
    >>> model_flops_per_token(spec)
    893952.0
    """
    return spec.flops_per_token("exact") - 3.0 * 2 * spec.vocab_size * spec.d_model


def progress_postfix(loss: float | None, mfu: float | None) -> dict[str, str]:
    """A progress bar's postfix: the last training loss, and MFU when the peak is known."""
    postfix = {} if loss is None else {"loss": f"{loss:.3f}"}
    if mfu is not None:
        postfix["mfu"] = f"{100 * mfu:.1f}%"
    return postfix
