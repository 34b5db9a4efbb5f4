"""Train one :class:`~scalinglaws.sweep.design.RunSpec` and return its result.

Read top to bottom: device, model and optimizer, data, the loop, evaluation. AdamW
(weight decay on matrices only), a warmup plus cosine/WSD/constant schedule, gradient
clipping, and a held-out evaluation at ``n_evals`` evenly spaced steps (the last one
gives the run's ``loss``). On the CPU the run is deterministic for a fixed thread count;
on CUDA it runs under bf16 autocast.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from scalinglaws.sweep.data import load_corpus
from scalinglaws.sweep.design import RunSpec
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.model import ModelConfig, Transformer
from scalinglaws.sweep.schedule import lr_at

EVAL_BATCH = 64  # sequences per evaluation forward pass
CHECK_EVERY = 25  # steps between checks that the training loss is finite


@dataclass(frozen=True)
class CurvePoint:
    """One held-out evaluation: after ``step`` optimizer steps and ``tokens`` tokens."""

    step: int
    tokens: int
    eval_loss: float
    lr: float


@dataclass(frozen=True)
class RunResult:
    """A finished run.

    Attributes
    ----------
    spec : RunSpec
        What was trained.
    n_params, n_params_nonembedding : int
        Total parameters (embeddings included) and non-embedding parameters.
    n_tokens : int
        Tokens actually trained on (``n_steps * batch_size * seq_len``).
    flops, flops_6nd, flops_exact : float
        Training FLOPs under the spec's convention, under ``6 * n_params * n_tokens``,
        and under the Chinchilla Appendix F count.
    loss : float
        Final held-out loss, nats per byte token.
    curve : tuple of CurvePoint
        Every evaluation, the last one giving ``loss``.
    train_seconds, tokens_per_second : float
        Wall time of the loop (evaluations included), and ``n_tokens`` over it.
    device, corpus_sha256, torch_version, finished_at : str
        Provenance.
    """

    spec: RunSpec
    n_params: int
    n_params_nonembedding: int
    n_tokens: int
    flops: float
    flops_6nd: float
    flops_exact: float
    loss: float
    curve: tuple[CurvePoint, ...]
    train_seconds: float
    tokens_per_second: float
    device: str
    corpus_sha256: str
    torch_version: str
    finished_at: str

    @property
    def run_id(self) -> str:
        """The spec's content hash."""
        return self.spec.run_id

    def to_row(self) -> tuple[dict[str, object], list[tuple[int, int, float, float]]]:
        """The store's ``runs`` row and ``curves`` rows for this result (plain Python)."""
        spec = self.spec
        row: dict[str, object] = {
            "run_id": spec.run_id, "budget": spec.budget, "n_params": self.n_params,
            "n_params_nonembedding": self.n_params_nonembedding, "n_tokens": self.n_tokens,
            "flops": self.flops, "loss": self.loss, "flops_6nd": self.flops_6nd,
            "flops_exact": self.flops_exact, "flop_convention": spec.flop_convention,
            "n_layer": spec.n_layer, "d_model": spec.d_model, "n_head": spec.n_head,
            "seq_len": spec.seq_len, "vocab_size": spec.vocab_size, "lr": spec.lr,
            "batch_size": spec.batch_size, "n_steps": spec.n_steps, "schedule": spec.schedule,
            "seed": spec.seed, "corpus": spec.data.corpus, "corpus_sha256": self.corpus_sha256,
            "device": self.device, "train_seconds": self.train_seconds,
            "tokens_per_second": self.tokens_per_second, "torch_version": self.torch_version,
            "finished_at": self.finished_at,
            "spec": json.dumps(asdict(spec), sort_keys=True),
        }
        curve = [(p.step, p.tokens, p.eval_loss, p.lr) for p in self.curve]
        return row, curve


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    SweepError
        For an unknown name, or ``"cuda"`` on a machine without a usable GPU.
    """
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


def train(
    spec: RunSpec,
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = False,
    position: int = 0,
) -> RunResult:
    """Train the run described by ``spec``.

    Parameters
    ----------
    spec : RunSpec
        The run.
    device : {"auto", "cpu", "cuda"}
        Where to train.
    threads : int, optional
        CPU threads for torch (default: leave torch's setting).
    progress : bool
        Show a tqdm bar of tokens trained and the last training loss.
    position : int
        The bar's line (one per worker).

    Returns
    -------
    RunResult

    Raises
    ------
    SweepError
        If the device or corpus is unusable, or the loss becomes non-finite.
    """
    if spec.vocab_size < 256:
        raise SweepError(f"vocab_size must be >= 256 for byte tokens, got {spec.vocab_size}")
    where = resolve_device(device)
    if threads is not None:
        torch.set_num_threads(threads)
    with _deterministic(where.type == "cpu"):
        return _train(spec, where, progress, position)


def _train(spec: RunSpec, device: torch.device, progress: bool, position: int) -> RunResult:
    # Model and optimizer, seeded.
    torch.manual_seed(spec.seed)
    config = ModelConfig(n_layer=spec.n_layer, d_model=spec.d_model, n_head=spec.n_head,
                         vocab_size=spec.vocab_size, seq_len=spec.seq_len,
                         ffw_mult=spec.ffw_mult)
    model = Transformer(config).to(device)
    optimizer = _adamw(model, spec, device)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
                else contextlib.nullcontext())

    # Data: random training windows from a seeded generator, fixed held-out windows.
    corpus = load_corpus(spec.data, spec.seq_len + 1)
    train_tokens = torch.from_numpy(corpus.train)
    val_windows = _eval_windows(corpus.val, spec.seq_len, spec.eval_tokens).to(device)
    generator = torch.Generator().manual_seed(spec.seed)
    offsets = torch.arange(spec.seq_len + 1)

    # The loop.
    n_steps = spec.n_steps
    eval_steps = {max(1, round(k * n_steps / spec.n_evals)) for k in range(1, spec.n_evals + 1)}
    curve: list[CurvePoint] = []
    bar = _bar(spec, progress, position)
    start = time.perf_counter()
    for step in range(n_steps):
        lr = lr_at(step, n_steps, peak=spec.lr, schedule=spec.schedule,
                   warmup_frac=spec.warmup_frac, min_lr_ratio=spec.min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(len(train_tokens) - spec.seq_len, (spec.batch_size,),
                               generator=generator)
        batch = train_tokens[starts[:, None] + offsets].to(device, torch.long)
        with autocast:
            logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
        loss.backward()
        if spec.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if bar is not None:
            bar.update(spec.tokens_per_step)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if (step + 1) % CHECK_EVERY == 0:
            _check_finite(spec, step + 1, loss.item())
        if step + 1 in eval_steps:
            eval_loss = _evaluate(model, val_windows, autocast)
            _check_finite(spec, step + 1, eval_loss)
            curve.append(CurvePoint(step + 1, (step + 1) * spec.tokens_per_step, eval_loss, lr))
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()

    n_params, n_params_nonembedding = model.n_params()
    n_tokens = n_steps * spec.tokens_per_step
    return RunResult(
        spec=spec, n_params=n_params, n_params_nonembedding=n_params_nonembedding,
        n_tokens=n_tokens, flops=spec.flops_per_token() * n_tokens,
        flops_6nd=spec.flops_per_token("6nd") * n_tokens,
        flops_exact=spec.flops_per_token("exact") * n_tokens,
        loss=curve[-1].eval_loss, curve=tuple(curve), train_seconds=seconds,
        tokens_per_second=n_tokens / seconds, device=str(device),
        corpus_sha256=corpus.sha256, torch_version=torch.__version__,
        finished_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )


def _adamw(model: Transformer, spec: RunSpec, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on LayerNorm gains)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": spec.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    try:  # the fused kernel is fastest; torch < 2.4 has it on CUDA only
        return torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)
    except RuntimeError:
        return torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.95), eps=1e-8)


def _eval_windows(val: np.ndarray, seq_len: int, eval_tokens: int) -> torch.Tensor:
    """Evenly spaced held-out windows of ``seq_len + 1`` tokens, shape (n, seq_len + 1)."""
    count = max(1, eval_tokens // seq_len)
    starts = np.linspace(0, len(val) - seq_len - 1, count).astype(np.int64)
    windows = val[starts[:, None] + np.arange(seq_len + 1)]
    return torch.from_numpy(windows).long()


@torch.no_grad()
def _evaluate(model: Transformer, windows: torch.Tensor,
              autocast: contextlib.AbstractContextManager[object]) -> float:
    """Mean cross-entropy (nats per token) over the held-out windows."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=windows.device)
    for batch in windows.split(EVAL_BATCH):
        with autocast:
            logits = model(batch[:, :-1])
        total += F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten(),
                                 reduction="sum").double()
    model.train()
    return float(total) / (windows.shape[0] * (windows.shape[1] - 1))


def _check_finite(spec: RunSpec, step: int, loss: float) -> None:
    """Stop a diverged run early, with the fix in the message."""
    if not math.isfinite(loss):
        raise SweepError(f"run {spec.run_id} diverged (loss {loss} at step {step}); "
                         f"lower its lr ({spec.lr:g}) in the design file")


@contextlib.contextmanager
def _deterministic(enabled: bool) -> Iterator[None]:
    """Turn on torch's deterministic algorithms for the block, then restore the setting."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(enabled or before)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def _bar(spec: RunSpec, enabled: bool, position: int) -> Any:
    """A tqdm bar over the run's tokens, or None."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=spec.n_steps * spec.tokens_per_step, unit="tok", unit_scale=True,
                desc=f"run {spec.run_id[:8]}", position=position, leave=False,
                dynamic_ncols=True)

