"""Devices: torch.compile, MFU against a peak, the GPU table, and the CUDA path (GPU only).

The CUDA tests skip on a machine without a GPU; ``benchmarks/gpu_check.sh`` runs them
(and a short sweep and the speed benchmark) where there is one.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from scalinglaws.sweep import DataSpec, RunSpec, SweepDesign, read_runs, run_sweep
from scalinglaws.sweep.hardware import (
    PEAK_BF16_FLOPS,
    model_flops_per_token,
    peak_flops_by_name,
)

torch = pytest.importorskip("torch")

from scalinglaws.sweep.hardware import peak_flops
from scalinglaws.sweep.train import train

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def spec(**changes: object) -> RunSpec:
    base = RunSpec(budget=1e9, n_layer=2, d_model=32, n_head=4, n_tokens=60 * 8 * 32,
                   batch_size=8, lr=3e-3, seq_len=32, n_evals=3, eval_tokens=1024,
                   data=DataSpec(corpus="devils-dictionary"))
    return dataclasses.replace(base, **changes)


def test_gpu_peaks_by_name() -> None:
    assert peak_flops_by_name("NVIDIA H200") == 989.4e12
    assert peak_flops_by_name("NVIDIA A100-SXM4-80GB") == 312e12
    assert peak_flops_by_name("NVIDIA A10G") is None  # not the A10's figure
    assert peak_flops_by_name("Tesla V100-SXM2-16GB") is None
    assert all(value is None or value > 1e14 for _, value in PEAK_BF16_FLOPS)
    assert peak_flops(torch.device("cpu")) is None
    # MFU counts the exact FLOPs less the embedding lookup (3 x 2 V d per token).
    run = spec()
    assert model_flops_per_token(run) == run.flops_per_token("exact") - 6 * 256 * 32


def test_mfu_against_a_given_peak_reaches_the_store(tmp_path: Path) -> None:
    result = train(spec(), device="cpu", threads=1, peak_flops=2e11)
    assert result.peak_flops == 2e11 and result.device_name == "cpu"
    assert result.mfu == pytest.approx(model_flops_per_token(spec()) * result.tokens_per_second
                                       / 2e11, rel=1e-12)
    assert train(spec(), device="cpu", threads=1).mfu is None  # no peak known for a CPU
    store = tmp_path / "runs.db"
    report = run_sweep(SweepDesign(runs=(spec(),)), store, device="cpu", threads=1,
                       peak_flops=2e11, progress=False)
    assert len(report.done) == 1
    row = read_runs(store).iloc[0]
    assert row["peak_flops"] == 2e11 and 0 < row["mfu"] < 1 and row["compiled"] == 0


def test_compile_on_the_cpu() -> None:
    eager = train(spec(), device="cpu", threads=1)
    compiled = train(spec(), device="cpu", threads=1, compile="aot_eager")  # no C++ build
    assert compiled.compiled and not eager.compiled
    assert math.isfinite(compiled.loss) and abs(compiled.loss - eager.loss) < 0.05
    # the noise scale is measured under compile too (its half batch takes an eager pass)
    assert compiled.b_simple is not None and compiled.b_simple > 0 and math.isfinite(compiled.b_simple)


@needs_gpu
def test_cuda_bf16_fused_adamw_and_mfu() -> None:  # pragma: no cover - GPU machines only
    result = train(spec(n_tokens=200 * 8 * 32), device="cuda")
    assert result.device.startswith("cuda") and math.isfinite(result.loss)
    assert result.loss < result.curve[0].eval_loss
    if peak_flops(torch.device("cuda")) is not None:
        assert result.mfu is not None and 0 < result.mfu < 1


@needs_gpu
def test_cuda_compile_with_inductor() -> None:  # pragma: no cover - GPU machines only
    result = train(spec(n_tokens=200 * 8 * 32), device="cuda", compile=True)
    assert result.compiled and math.isfinite(result.loss)


@needs_gpu
def test_cuda_resume_from_a_checkpoint(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:  # pragma: no cover
    from scalinglaws.sweep import train as train_module

    original = train_module.lr_at

    def crash(step: int, *args: object, **kwargs: object) -> float:
        if step == 45:
            raise RuntimeError("injected")
        return original(step, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(train_module, "lr_at", crash)
    with pytest.raises(RuntimeError):
        train(spec(), device="cuda", checkpoint_dir=tmp_path, checkpoint_every=20)
    monkeypatch.setattr(train_module, "lr_at", original)
    resumed = train(spec(), device="cuda", checkpoint_dir=tmp_path, checkpoint_every=20)
    whole = train(spec(), device="cuda")
    assert resumed.resumed_from_step == 40
    assert abs(resumed.loss - whole.loss) < 0.05  # bf16 on a GPU: close, not bit-identical
