"""What a trained run gives back: its evaluation curve (:class:`CurvePoint`) and its
:class:`RunResult`, with the store rows it becomes (:meth:`RunResult.to_row`).

Plain dataclasses, no torch: :func:`scalinglaws.sweep.train.train` builds them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from scalinglaws.sweep.specs import RunSpec


@dataclass(frozen=True)
class CurvePoint:
    """One held-out evaluation after ``step`` optimizer steps and ``tokens`` tokens.

    ``eval_loss`` is the mean over ``eval_tokens`` predicted held-out tokens.
    """

    step: int
    tokens: int
    eval_loss: float
    lr: float
    eval_tokens: int = 0


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
        Final held-out loss, nats per token.
    curve : tuple of CurvePoint
        Every evaluation, the last one giving ``loss``.
    train_seconds : float
        Wall time of the loop (evaluations and checkpoints included), summed over every
        attempt that contributed steps.
    tokens_per_second : float
        Tokens trained by the attempt that finished over its wall time.
    device, corpus_sha256, torch_version, finished_at : str
        Provenance.
    resumed_from_step : int
        The run's own checkpoint step this attempt resumed from (0: trained from
        scratch, or a branch that started from its parent's checkpoint).
    mfu, peak_flops : float or None
        Model FLOPs utilisation and the peak FLOP/s it is relative to (None when the
        peak is unknown: a CPU or an unlisted GPU without ``peak_flops``).
    device_name : str
        The GPU's product name, or ``"cpu"``.
    eval_sha256 : str
        Fingerprint of the held-out tokens every evaluation was measured on.
    compiled : bool
        Whether the model ran under ``torch.compile``.
    b_simple : float or None
        The simple gradient noise scale in tokens, averaged over the last evaluation
        interval (:mod:`scalinglaws.sweep.noise`); None for a batch of one sequence, or
        if the estimate of the gradient's squared norm came out negative (too noisy).
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
    resumed_from_step: int = 0
    mfu: float | None = None
    peak_flops: float | None = None
    device_name: str = ""
    eval_sha256: str = ""
    compiled: bool = False
    b_simple: float | None = None

    @property
    def run_id(self) -> str:
        """The spec's content hash."""
        return self.spec.run_id

    def to_row(self) -> tuple[dict[str, object], list[tuple[int, int, float, float, int]]]:
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
            "resumed_from_step": self.resumed_from_step, "mfu": self.mfu,
            "peak_flops": self.peak_flops, "device_name": self.device_name,
            "eval_sha256": self.eval_sha256, "compiled": int(self.compiled),
            "b_simple": self.b_simple,
            "parent": spec.parent or None, "branch_step": spec.branch_step or None,
            "trained_tokens": (spec.n_steps - spec.branch_step) * spec.tokens_per_step,
        }
        curve = [(p.step, p.tokens, p.eval_loss, p.lr, p.eval_tokens) for p in self.curve]
        return row, curve
