"""What a sweep is made of: the data (:class:`DataSpec`), one run (:class:`RunSpec`) and a
grid of runs (:class:`SweepDesign`), each checked when built.

A run's ``run_id`` hashes its whole spec, so a store knows which runs are done. How a
grid is chosen (budgets, sizes, LR and batch rules) is :mod:`scalinglaws.sweep.design`'s
job; its file form is :mod:`scalinglaws.sweep.designfile`'s.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from scalinglaws.sweep.accounting import FLOP_CONVENTIONS, count_params, flops_per_token
from scalinglaws.sweep.checks import check_choice, check_float, check_int
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.schedule import SCHEDULES, WSD_COOLDOWN_FRAC

TOKENIZER_KINDS: tuple[str, ...] = ("tiktoken", "tokenizers")
TOKEN_DTYPES: tuple[str, ...] = ("auto", "uint16", "uint32")
PARAMETRIZATIONS: tuple[str, ...] = ("standard", "mup")
#: DataSpec fields added after the first release, left out of ``run_id`` while they hold
#: their default, so runs designed before they existed keep their ids (and stores resume).
_LATER_DATA_FIELDS: dict[str, object] = {"tokenizer": "bytes", "dtype": "auto"}
#: RunSpec fields added later, left out of ``run_id`` at their default the same way.
_LATER_RUN_FIELDS: dict[str, object] = {"parametrization": "standard", "mup_base_width": 64,
                                        "cooldown_frac": WSD_COOLDOWN_FRAC, "parent": "",
                                        "branch_step": 0}
_FLOAT_FIELDS = ("budget", "lr", "warmup_frac", "min_lr_ratio", "weight_decay", "grad_clip",
                 "cooldown_frac")


@dataclass(frozen=True)
class DataSpec:
    """The training data and its held-out split.

    Attributes
    ----------
    corpus : str
        What to train on (see :mod:`scalinglaws.sweep.data`):

        * ``"stdlib"`` (default): the Python standard library's ``*.py`` sources;
        * ``"devils-dictionary"``: a small public-domain English text shipped with the
          package (Ambrose Bierce, 1911; 380 KB);
        * a text file, or a folder of text files;
        * a folder holding nanoGPT token files (``train.bin``, optional ``val.bin`` and
          ``meta.pkl``), or one ``.bin`` token file;
        * ``"hf:NAME[:CONFIG]"``: a Hugging Face dataset's ``text`` column (needs the
          ``datasets`` package).
    max_bytes : int
        Text bytes read at most (files in sorted order), before tokenising and splitting.
        Token files are used whole.
    val_fraction : float
        Share held out for evaluation when there is no ``val.bin``: every
        ``round(1 / val_fraction)``-th chunk of a text corpus, or the last
        ``val_fraction`` of a token file.
    tokenizer : str
        How text becomes tokens: ``"bytes"`` (default; vocabulary 256),
        ``"tiktoken:ENCODING"`` (e.g. ``tiktoken:gpt2``; needs ``tiktoken``) or
        ``"tokenizers:PATH"`` (a ``tokenizer.json``; needs ``tokenizers``). Token files
        are already tokenised and ignore it.
    dtype : str
        Element type of token files: ``"uint16"``, ``"uint32"``, or ``"auto"``
        (default: ``meta.pkl``'s ``dtype`` if it has one, else ``uint16``, as nanoGPT
        writes them).
    """

    corpus: str = "stdlib"
    max_bytes: int = 16_000_000
    val_fraction: float = 0.05
    tokenizer: str = "bytes"
    dtype: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.corpus, str) or not self.corpus:
            raise SweepError(f"data.corpus must be a non-empty string, got {self.corpus!r}")
        check_int("data.max_bytes", self.max_bytes, minimum=1024)
        check_float("data.val_fraction", self.val_fraction, low=0.0, high=0.5)
        object.__setattr__(self, "val_fraction", float(self.val_fraction))
        if not isinstance(self.tokenizer, str) or not (
                self.tokenizer == "bytes" or self.tokenizer.partition(":")[0] in TOKENIZER_KINDS
                and self.tokenizer.partition(":")[2]):
            raise SweepError(f"data.tokenizer must be 'bytes', 'tiktoken:ENCODING' or "
                             f"'tokenizers:PATH', got {self.tokenizer!r}")
        check_choice("data.dtype", self.dtype, TOKEN_DTYPES)


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one training run; its ``run_id`` hashes all of it.

    Attributes
    ----------
    budget : float
        The nominal FLOP budget this run belongs to (groups runs into IsoFLOP curves).
    n_layer, d_model, n_head : int
        Depth, width and number of attention heads (``d_model % n_head == 0``).
    n_tokens : int
        Training tokens asked for; the run trains ``n_steps * batch_size * seq_len``.
    batch_size : int
        Sequences per optimizer step.
    lr : float
        Peak learning rate (AdamW).
    seq_len, vocab_size, ffw_mult : int
        Context length, vocabulary (256 for byte tokens; :func:`design_sweep` reads it
        from the data otherwise) and MLP expansion factor.
    schedule : {"cosine", "wsd", "constant", "step"}
        LR schedule after a linear warmup (see :mod:`scalinglaws.sweep.schedule`).
    warmup_frac, min_lr_ratio, weight_decay, grad_clip : float
        Warmup share of the steps, final LR as a fraction of the peak, AdamW weight
        decay (matrices only), gradient-norm clip (0 disables).
    n_evals, eval_tokens : int
        Held-out evaluations along the run (the last at the final step) and tokens per
        evaluation.
    flop_convention : {"6nd", "exact"}
        How this run's ``flops`` are counted.
    seed : int
        Seeds initialisation and batch sampling.
    data : DataSpec
        The corpus.
    parametrization : {"standard", "mup"}
        ``"standard"`` (default): the GPT-2 initialisation and one LR for every weight.
        ``"mup"``: the maximal update parametrization for Adam (Yang et al. 2022,
        arXiv 2203.03466), relative to a model ``mup_base_width`` wide, so the best LR
        stays put as ``d_model`` grows (see :mod:`scalinglaws.sweep.mup`).
    mup_base_width : int
        The width at which muP equals the standard parametrization but for the
        attention scale (default 64; ignored under ``"standard"``).
    cooldown_frac : float
        WSD only: share of the steps in the final cooldown (default 0.2).
    parent, branch_step : str, int
        A branch (Hägele et al. 2024): the ``run_id`` of the run it starts from and that
        run's step whose checkpoint it loads (model, optimizer, RNG and data position);
        it trains steps ``branch_step + 1 .. n_steps`` under its own schedule (see
        :mod:`scalinglaws.sweep.branches`). ``""`` and 0 (default): trained from scratch.
    """

    budget: float
    n_layer: int
    d_model: int
    n_head: int
    n_tokens: int
    batch_size: int
    lr: float
    seq_len: int = 128
    vocab_size: int = 256
    ffw_mult: int = 4
    schedule: str = "cosine"
    warmup_frac: float = 0.05
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    n_evals: int = 10
    eval_tokens: int = 16_384
    flop_convention: str = "6nd"
    seed: int = 0
    data: DataSpec = field(default_factory=DataSpec)
    parametrization: str = "standard"
    mup_base_width: int = 64
    cooldown_frac: float = WSD_COOLDOWN_FRAC
    parent: str = ""
    branch_step: int = 0

    def __post_init__(self) -> None:
        check_float("budget", self.budget, low=0.0)
        for name in _FLOAT_FIELDS:  # 1e11 and 100000000000 must hash alike
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        for name in ("n_layer", "d_model", "n_head", "n_tokens", "batch_size", "seq_len",
                     "vocab_size", "ffw_mult", "n_evals", "eval_tokens"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        if self.d_model % self.n_head:
            raise SweepError(
                f"d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})"
            )
        check_float("lr", self.lr, low=0.0)
        check_float("warmup_frac", self.warmup_frac, low=0.0, high=1.0, open_low=False)
        check_float("min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0, open_low=False)
        check_float("weight_decay", self.weight_decay, low=0.0, open_low=False)
        check_float("grad_clip", self.grad_clip, low=0.0, open_low=False)
        check_float("cooldown_frac", self.cooldown_frac, low=0.0, high=1.0)
        _check_branch(self)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("flop_convention", self.flop_convention, FLOP_CONVENTIONS)
        check_choice("parametrization", self.parametrization, PARAMETRIZATIONS)
        check_int("mup_base_width", self.mup_base_width, minimum=1)
        if not isinstance(self.data, DataSpec):
            raise SweepError(f"data must be a DataSpec, got {type(self.data).__name__}")

    @property
    def run_id(self) -> str:
        """A 16-hex-digit hash of the spec's full content (stable across sessions)."""
        content = asdict(self)
        for name, default in _LATER_RUN_FIELDS.items():
            if content[name] == default:
                del content[name]
        for name, default in _LATER_DATA_FIELDS.items():
            if content["data"][name] == default:
                del content["data"][name]
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def tokens_per_step(self) -> int:
        """Tokens in one optimizer step, ``batch_size * seq_len``."""
        return self.batch_size * self.seq_len

    @property
    def n_steps(self) -> int:
        """Optimizer steps: ``n_tokens / tokens_per_step``, rounded, at least one."""
        return max(1, round(self.n_tokens / self.tokens_per_step))

    @property
    def params(self) -> tuple[int, int]:
        """``(n_params, n_params_nonembedding)`` of this shape."""
        return count_params(self.n_layer, self.d_model, vocab_size=self.vocab_size,
                            seq_len=self.seq_len, ffw_mult=self.ffw_mult)

    def flops_per_token(self, convention: str | None = None) -> float:
        """Training FLOPs per token, under ``convention`` (default: the run's own)."""
        return flops_per_token(
            self.n_layer, self.d_model, n_head=self.n_head, vocab_size=self.vocab_size,
            seq_len=self.seq_len, ffw_mult=self.ffw_mult,
            convention=convention or self.flop_convention,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class SweepDesign:
    """An IsoFLOP grid: the runs, plus the rule that produced them (for provenance).

    Attributes
    ----------
    runs : tuple of RunSpec
        The runs, in budget then size order.
    rule : dict
        The arguments of :func:`design_sweep` that made the grid (empty if hand-made).
    """

    runs: tuple[RunSpec, ...]
    rule: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [run.run_id for run in self.runs]
        if len(set(ids)) != len(ids):
            raise SweepError("the design lists the same run twice; remove the duplicate")

    @property
    def budgets(self) -> tuple[float, ...]:
        """The distinct budgets, sorted."""
        return tuple(sorted({run.budget for run in self.runs}))


def _check_branch(spec: RunSpec) -> None:
    """A branch names a parent run and a step inside its own run; a plain run neither."""
    check_int("branch_step", spec.branch_step, minimum=0)
    if not isinstance(spec.parent, str):
        raise SweepError(f"parent must be a run_id string, got {spec.parent!r}")
    if not spec.parent:
        if spec.branch_step:
            raise SweepError(f"branch_step is {spec.branch_step} but no parent run is given")
        return
    if len(spec.parent) != 16 or any(c not in "0123456789abcdef" for c in spec.parent):
        raise SweepError(f"parent must be a 16-hex-digit run_id, got {spec.parent!r}")
    if not 1 <= spec.branch_step < spec.n_steps:
        raise SweepError(f"branch_step must be between 1 and the run's steps minus one "
                         f"({spec.n_steps - 1}), got {spec.branch_step}")
