"""Train one :class:`~scalinglaws.sweep.design.RunSpec` and return its result.

Read top to bottom: device, data, model and optimizer, resuming from a checkpoint, the
loop. AdamW (fused; weight decay on matrices only; :mod:`~scalinglaws.sweep.optim`), a
warmup plus cosine/WSD/constant schedule, gradient clipping, and a held-out evaluation
(:mod:`~scalinglaws.sweep.evaluate`) at ``n_evals`` evenly spaced steps (the last one
gives the run's ``loss``). Resuming is :mod:`~scalinglaws.sweep.resume`'s job, the
result's types are in :mod:`~scalinglaws.sweep.result`, the progress hook in
:mod:`~scalinglaws.sweep.progress`.

* **Checkpoints.** Given a ``checkpoint_dir``, the loop saves its whole state there
  (:mod:`scalinglaws.sweep.checkpoint`) every ``checkpoint_every`` steps, or at each
  evaluation by default, and starts from the newest checkpoint it finds. Batches are a
  function of ``(seed, step)``, so on the CPU a resumed run ends bit-identical to one
  that was never stopped (same thread count).
* **CPU.** Deterministic algorithms on (and restored after), a fixed thread count: the
  same spec gives the same loss to the last bit.
* **CUDA.** bf16 autocast, TF32 for the remaining float32 matmuls, fused AdamW, the
  flash kernels of ``scaled_dot_product_attention``, pinned host batches copied without
  blocking, and a host sync only every :data:`CHECK_EVERY` steps. Not bit-reproducible.
* **torch.compile** (``compile=True``, or a backend name) compiles the model.
* **muP.** ``spec.parametrization == "mup"`` builds the model and the optimizer's
  parameter groups as :mod:`scalinglaws.sweep.mup` describes; each group's LR is the
  schedule's times its ``lr_scale``.
* **Gradient noise scale.** (Under ``torch.compile`` the half batch takes its own eager pass.) On up to :data:`NOISE_SAMPLES` steps of the last evaluation
  interval, a second backward pass gives the gradient of the batch's first half (and so
  of its second), and :mod:`scalinglaws.sweep.noise` turns the gradient norms at the
  half and the whole batch into ``b_simple``.
* **Branches.** A spec with a ``parent`` starts, unless it has a checkpoint of its own,
  from the parent's checkpoint at ``branch_step`` (``branch_from``): model, optimizer,
  RNG states, data position and the curve so far; it then trains the remaining steps
  under its own schedule. Its ``train_seconds`` count only its own steps.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch.nn import functional as F

from scalinglaws.sweep import checkpoint
from scalinglaws.sweep.data import load_corpus
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.evaluate import EVAL_BATCH, check_finite, evaluate
from scalinglaws.sweep.hardware import (
    device_name,
    model_flops_per_token,
    peak_flops,
    resolve_device,
)
from scalinglaws.sweep.model import ModelConfig, Transformer
from scalinglaws.sweep.noise import measured_steps
from scalinglaws.sweep.optim import adamw, numerics
from scalinglaws.sweep.progress import Progress, reporter
from scalinglaws.sweep.result import CurvePoint, RunResult
from scalinglaws.sweep.resume import restore, rng_state
from scalinglaws.sweep.schedule import lr_at
from scalinglaws.sweep.specs import RunSpec

# Built in the modules above, importable from here as before.
__all__ = [
    "CHECK_EVERY",
    "EVAL_BATCH",
    "NOISE_SAMPLES",
    "CurvePoint",
    "Progress",
    "RunResult",
    "train",
]

CHECK_EVERY = 25  # steps between checks that the training loss is finite (and host syncs)
NOISE_SAMPLES = 32  # steps of the last evaluation interval that measure the noise scale


def train(
    spec: RunSpec,
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: bool | Progress = False,
    position: int = 0,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    final_checkpoint: bool = False,
    compile: bool | str = False,
    peak_flops: float | None = None,
    owner: dict[str, object] | None = None,
    keep_steps: frozenset[int] = frozenset(),
    branch_from: str | Path | None = None,
) -> RunResult:
    """Train the run described by ``spec``, resuming from its newest checkpoint if any.

    Parameters
    ----------
    spec : RunSpec
        The run.
    device : {"auto", "cpu", "cuda"}
        Where to train.
    threads : int, optional
        CPU threads for torch (default: leave torch's setting). A bit-identical resume
        needs the same count as the first attempt.
    progress : bool or callable
        True: a tqdm bar of tokens, loss, tokens/s (and MFU); a callable: called as
        ``progress(steps_done, n_steps, last_loss, mfu)`` after every step instead.
    position : int
        The tqdm bar's line.
    checkpoint_dir : path, optional
        This run's checkpoint folder; None: no checkpoints.
    checkpoint_every : int, optional
        Steps between checkpoints; None (default): at every evaluation; 0: never.
    final_checkpoint : bool
        Also checkpoint the last step (to keep it: a branch point for later runs).
    compile : bool or str
        Run the model under ``torch.compile`` (a string names the backend, e.g.
        ``"aot_eager"``; True uses the default, inductor).
    peak_flops : float, optional
        The device's peak FLOP/s for MFU; default: the GPU table, none for a CPU.
    owner : dict, optional
        Extra fields for the checkpoint folder's ``owner.json`` (e.g. the Ray node).
    keep_steps : frozenset of int
        Steps to checkpoint and keep (branch points of other runs; needs
        ``checkpoint_dir``).
    branch_from : path, optional
        A branch's starting checkpoint: the parent's file at ``spec.branch_step``
        (required when ``spec.parent`` is set).

    Returns
    -------
    RunResult

    Raises
    ------
    SweepError
        If the device or data is unusable, or the loss becomes non-finite.
    """
    if checkpoint_every is not None and (isinstance(checkpoint_every, bool)
                                         or not isinstance(checkpoint_every, int)
                                         or checkpoint_every < 0):
        raise SweepError(f"checkpoint_every must be an integer >= 0, got {checkpoint_every!r}")
    if peak_flops is not None and not (isinstance(peak_flops, (int, float))
                                       and math.isfinite(peak_flops) and peak_flops > 0):
        raise SweepError(f"peak_flops must be a positive number of FLOP/s, got {peak_flops!r}")
    where = resolve_device(device)
    if threads is not None:
        torch.set_num_threads(threads)
    with numerics(where):
        return _train(spec, where, progress, position,
                      None if checkpoint_dir is None else Path(checkpoint_dir),
                      checkpoint_every, final_checkpoint, compile, peak_flops, owner or {},
                      frozenset(keep_steps), None if branch_from is None else Path(branch_from))


def _train(spec: RunSpec, device: torch.device, progress: bool | Progress, position: int,
           checkpoint_dir: Path | None, checkpoint_every: int | None, final_checkpoint: bool,
           compile: bool | str, peak: float | None, owner: dict[str, object],
           keep_steps: frozenset[int] = frozenset(), branch_from: Path | None = None
           ) -> RunResult:
    # Data: batches by (seed, step); fixed held-out windows.
    corpus = load_corpus(spec.data, spec.seq_len + 1)
    if corpus.vocab_size > spec.vocab_size:
        raise SweepError(
            f"the data has a vocabulary of {corpus.vocab_size} tokens but the run's "
            f"vocab_size is {spec.vocab_size}; design the sweep with this data (it reads "
            "the vocabulary) or set vocab_size in the design file")
    windows = corpus.eval_windows(spec.seq_len, spec.eval_tokens)
    eval_tokens = windows.shape[0] * spec.seq_len
    eval_sha256 = hashlib.sha256(windows.tobytes()).hexdigest()[:16]
    val_windows = torch.from_numpy(windows).to(device)

    # Model and optimizer, seeded.
    torch.manual_seed(spec.seed)
    config = ModelConfig(n_layer=spec.n_layer, d_model=spec.d_model, n_head=spec.n_head,
                         vocab_size=spec.vocab_size, seq_len=spec.seq_len,
                         ffw_mult=spec.ffw_mult, parametrization=spec.parametrization,
                         mup_base_width=spec.mup_base_width)
    model = Transformer(config).to(device)
    optimizer = adamw(model, spec, device)
    forward: Callable[[torch.Tensor], torch.Tensor] = model
    if compile:
        forward = torch.compile(model, backend="inductor" if compile is True else compile)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else contextlib.nullcontext())

    # Resume from the newest checkpoint, if there is one for this run and this data (a
    # branch's first attempt: from its parent's).
    n_steps = spec.n_steps
    start_step, curve, seconds_before, noise, resumed_from = restore(
        spec, model, optimizer, corpus, device, checkpoint_dir, owner, branch_from)
    every = checkpoint_every
    eval_steps = {max(1, round(k * n_steps / spec.n_evals)) for k in range(1, spec.n_evals + 1)}
    save_steps = (set() if checkpoint_dir is None or every == 0 else
                  set(eval_steps) if every is None else set(range(every, n_steps + 1, every)))
    if not final_checkpoint:
        save_steps.discard(n_steps)
    elif checkpoint_dir is not None:
        save_steps.add(n_steps)
    half = spec.batch_size // 2  # the small batch of the noise scale: the first half
    noise_steps = measured_steps(n_steps, eval_steps, NOISE_SAMPLES) if half else set()
    params = [p for p in model.parameters() if p.requires_grad]
    if checkpoint_dir is not None:
        save_steps |= {k for k in keep_steps if start_step < k <= n_steps}

    # The loop.
    report = reporter(spec, progress, position, start_step)
    peak = peak if peak is not None else peak_flops(device)
    mfu_per_token_rate = None if peak is None else model_flops_per_token(spec) / peak
    pin = device.type == "cuda"
    last_loss: float | None = None
    last_mfu: float | None = None
    start = mark = time.perf_counter()
    mark_step = start_step
    for step in range(start_step, n_steps):
        lr = lr_at(step, n_steps, peak=spec.lr, schedule=spec.schedule,
                   warmup_frac=spec.warmup_frac, min_lr_ratio=spec.min_lr_ratio,
                   cooldown_frac=spec.cooldown_frac)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        batch = torch.from_numpy(corpus.batch(step, seed=spec.seed, batch_size=spec.batch_size,
                                              seq_len=spec.seq_len))
        if pin:
            batch = batch.pin_memory().to(device, non_blocking=True)
        with autocast:
            logits = forward(batch[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
        if step in noise_steps and forward is not model:
            # a compiled backward frees (donates) its buffers, so it cannot run twice over
            # one graph: the half batch gets its own eager pass (on these few steps only)
            with autocast:
                half_logits = model(batch[:half, :-1])
            small = F.cross_entropy(half_logits.float().flatten(0, 1), batch[:half, 1:].flatten())
            first = torch.autograd.grad(small, params)
        elif step in noise_steps:  # before the update's backward, which frees the graph
            small = F.cross_entropy(logits[:half].float().flatten(0, 1),
                                    batch[:half, 1:].flatten())
            first = torch.autograd.grad(small, params, retain_graph=True)
        loss.backward()
        if step in noise_steps:
            noise.add_halves(first, [p.grad for p in params], half, spec.batch_size,
                             spec.seq_len)
        if spec.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        if done % CHECK_EVERY == 0 or done == n_steps or not pin:
            last_loss = loss.item()  # a host sync on CUDA: not every step there
        if done % CHECK_EVERY == 0:
            check_finite(spec, done, last_loss)  # type: ignore[arg-type]
            now = time.perf_counter()
            if mfu_per_token_rate is not None:
                last_mfu = (mfu_per_token_rate * (done - mark_step) * spec.tokens_per_step
                            / (now - mark))
            mark, mark_step = now, done
        if done in eval_steps:
            eval_loss = evaluate(model, val_windows, autocast)
            check_finite(spec, done, eval_loss)
            curve.append(CurvePoint(done, done * spec.tokens_per_step, eval_loss, lr,
                                    eval_tokens))
        if done in save_steps:
            checkpoint.save(checkpoint_dir, done, {  # type: ignore[arg-type]
                "run_id": spec.run_id, "step": done, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "rng": rng_state(device),
                "curve": [tuple(asdict(p).values()) for p in curve], "noise": noise.state(),
                "train_seconds": seconds_before + time.perf_counter() - start,
                "data_sha256": corpus.sha256, "threads": torch.get_num_threads(),
                "device": str(device)}, keep=keep_steps)
        report(done, n_steps, last_loss, last_mfu)
    seconds = time.perf_counter() - start
    report(-1, n_steps, last_loss, last_mfu)  # close

    n_params, n_params_nonembedding = model.n_params()
    n_tokens = n_steps * spec.tokens_per_step
    total_seconds = seconds_before + seconds
    trained_now = (n_steps - start_step) * spec.tokens_per_step
    tokens_per_second = (trained_now / seconds if trained_now and seconds > 0
                         else n_tokens / max(total_seconds, 1e-9))
    mfu = None if mfu_per_token_rate is None else mfu_per_token_rate * tokens_per_second
    return RunResult(
        spec=spec, n_params=n_params, n_params_nonembedding=n_params_nonembedding,
        n_tokens=n_tokens, flops=spec.flops_per_token() * n_tokens,
        flops_6nd=spec.flops_per_token("6nd") * n_tokens,
        flops_exact=spec.flops_per_token("exact") * n_tokens,
        loss=curve[-1].eval_loss, curve=tuple(curve), train_seconds=total_seconds,
        tokens_per_second=tokens_per_second, device=str(device),
        corpus_sha256=corpus.sha256, torch_version=torch.__version__,
        finished_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        resumed_from_step=resumed_from, mfu=mfu, peak_flops=peak,
        device_name=device_name(device), eval_sha256=eval_sha256, compiled=bool(compile),
        b_simple=noise.b_simple,
    )
