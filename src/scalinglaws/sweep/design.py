"""IsoFLOP sweep designs: which models to train, on how many tokens, with which LR and batch.

A design is a grid of FLOP budgets times model sizes. For each budget ``C`` the sizes are
log-spaced around ``N* = sqrt(C / (6 r))``, the size that trains on ``r`` tokens per
parameter under ``C = 6 N D`` (``r = 20``, Chinchilla's ratio, unless
``tokens_per_param`` says otherwise), from ``N* / spread`` to ``N* * spread``. Each size is
turned into a shape by :func:`shape_for_params` (fixed aspect ratio ``d_model / n_layer``
and head dimension), and its token count is the budget divided by the shape's training
FLOPs per token under the chosen convention (:mod:`scalinglaws.sweep.accounting`).

Learning rate and batch size follow the DeepSeek LLM hyperparameter laws (Bi et al.
2024, arXiv 2401.02954, §3.1), evaluated at the run's budget ``C``:

- peak LR ``= 0.3118 * C ** -0.125``
- batch (tokens) ``= 0.2920 * C ** 0.3271``, rounded to whole sequences (at least one).

Both can be given explicitly instead. Designs are written to and read from an editable
TOML file by :mod:`scalinglaws.sweep.designfile`.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace

from scalinglaws.errors import ScalingLawsWarning
from scalinglaws.sweep.accounting import FLOP_CONVENTIONS, count_params, flops_per_token
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
        _check_int("data.max_bytes", self.max_bytes, minimum=1024)
        _check_float("data.val_fraction", self.val_fraction, low=0.0, high=0.5)
        object.__setattr__(self, "val_fraction", float(self.val_fraction))
        if not isinstance(self.tokenizer, str) or not (
                self.tokenizer == "bytes" or self.tokenizer.partition(":")[0] in TOKENIZER_KINDS
                and self.tokenizer.partition(":")[2]):
            raise SweepError(f"data.tokenizer must be 'bytes', 'tiktoken:ENCODING' or "
                             f"'tokenizers:PATH', got {self.tokenizer!r}")
        _check_choice("data.dtype", self.dtype, TOKEN_DTYPES)


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
        _check_float("budget", self.budget, low=0.0)
        for name in _FLOAT_FIELDS:  # 1e11 and 100000000000 must hash alike
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        for name in ("n_layer", "d_model", "n_head", "n_tokens", "batch_size", "seq_len",
                     "vocab_size", "ffw_mult", "n_evals", "eval_tokens"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("seed", self.seed, minimum=0)
        if self.d_model % self.n_head:
            raise SweepError(
                f"d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})"
            )
        _check_float("lr", self.lr, low=0.0)
        _check_float("warmup_frac", self.warmup_frac, low=0.0, high=1.0, open_low=False)
        _check_float("min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0, open_low=False)
        _check_float("weight_decay", self.weight_decay, low=0.0, open_low=False)
        _check_float("grad_clip", self.grad_clip, low=0.0, open_low=False)
        _check_float("cooldown_frac", self.cooldown_frac, low=0.0, high=1.0)
        _check_branch(self)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("flop_convention", self.flop_convention, FLOP_CONVENTIONS)
        _check_choice("parametrization", self.parametrization, PARAMETRIZATIONS)
        _check_int("mup_base_width", self.mup_base_width, minimum=1)
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


def default_lr(budget: float) -> float:
    """Peak LR from the DeepSeek LLM law, ``0.3118 * C ** -0.125``.

    Examples
    --------
    >>> round(default_lr(1e12), 5)
    0.00986
    """
    return 0.3118 * budget ** -0.125


def default_batch_size(budget: float, seq_len: int) -> int:
    """Sequences per step from the DeepSeek LLM law, ``0.2920 * C ** 0.3271`` tokens.

    Examples
    --------
    >>> default_batch_size(1e12, 128)
    19
    """
    return max(1, round(0.2920 * budget ** 0.3271 / seq_len))


def shape_for_params(
    n_params: float,
    *,
    aspect_ratio: float = 32.0,
    head_dim: int = 8,
    vocab_size: int = 256,
    seq_len: int = 128,
    ffw_mult: int = 4,
) -> tuple[int, int, int]:
    """The ``(n_layer, d_model, n_head)`` whose total parameter count is near ``n_params``.

    Depth is the integer nearest to the continuous solution of
    ``count_params(L, aspect_ratio * L) = n_params``; width is then re-solved for that
    depth and rounded to a multiple of ``head_dim`` (at least one head).

    Examples
    --------
    >>> shape_for_params(100_000, aspect_ratio=32, head_dim=16)
    (2, 64, 4)
    """
    def total(n_layer: float, d_model: float) -> float:
        f = ffw_mult * d_model
        return (n_layer * (4 * d_model**2 + 2 * d_model * f + 2 * d_model) + d_model
                + (vocab_size + seq_len) * d_model)

    low, high = 1e-3, 1e4
    for _ in range(200):  # bisection on the depth at the fixed aspect ratio
        mid = math.sqrt(low * high)
        low, high = (mid, high) if total(mid, aspect_ratio * mid) < n_params else (low, mid)
    n_layer = max(1, round(low))
    a = n_layer * (4 + 2 * ffw_mult)  # total(L, d) = a d^2 + b d
    b = 2 * n_layer + 1 + vocab_size + seq_len
    d_exact = (-b + math.sqrt(b * b + 4 * a * n_params)) / (2 * a)
    d_model = max(head_dim, head_dim * round(d_exact / head_dim))
    return n_layer, d_model, d_model // head_dim


def design_sweep(
    budgets: Sequence[float],
    sizes_per_budget: int = 5,
    *,
    flop_convention: str = "6nd",
    spread: float = 4.0,
    tokens_per_param: float = 20.0,
    aspect_ratio: float = 32.0,
    head_dim: int = 8,
    lr: float | None = None,
    batch_size: int | None = None,
    aspect_ratios: Sequence[float] | None = None,
    **run_options: object,
) -> SweepDesign:
    """Design an IsoFLOP grid.

    Parameters
    ----------
    budgets : sequence of float
        Training FLOP budgets, one IsoFLOP curve each.
    sizes_per_budget : int
        Model sizes per budget, log-spaced from ``N* / spread`` to ``N* * spread``.
    flop_convention : {"6nd", "exact"}
        How a run's FLOPs (and so its token count) are computed.
    spread : float
        Half-width of the size range, as a factor around ``N* = sqrt(C / (6 r))``.
    tokens_per_param : float
        ``r``, the tokens per parameter at the centre of each IsoFLOP curve.
    aspect_ratio, head_dim : float, int
        The shape rule (see :func:`shape_for_params`).
    aspect_ratios : sequence of float, optional
        Several aspect ratios: every size of every budget is built at each of them, so
        the sweep covers shapes (for a width-depth law, catalog ``shape``); replaces
        ``aspect_ratio``.
    lr, batch_size : float or int, optional
        Fixed peak LR and batch (sequences); default: the DeepSeek rule per budget.
    **run_options
        Any other :class:`RunSpec` field (``seq_len``, ``schedule``, ``seed``,
        ``data``...), the same for every run. Without ``vocab_size``, it is the data's
        (256 for byte-level text, else the tokenizer's or the token files').

    Returns
    -------
    SweepDesign
        ``len(budgets) * sizes_per_budget`` runs, fewer if two sizes round to one shape
        (a :class:`~scalinglaws.errors.ScalingLawsWarning` says so).

    Examples
    --------
    >>> design = design_sweep([1e11, 1e12], 3)
    >>> len(design.runs), design.budgets
    (6, (100000000000.0, 1000000000000.0))
    """
    if not budgets:
        raise SweepError("give at least one FLOP budget, e.g. --budgets 1e11,3e11,1e12")
    for budget in budgets:
        _check_float("budget", budget, low=0.0)
    _check_int("sizes_per_budget", sizes_per_budget, minimum=1)
    _check_float("spread", spread, low=1.0, open_low=False)
    _check_float("tokens_per_param", tokens_per_param, low=0.0)
    _check_float("aspect_ratio", aspect_ratio, low=0.0)
    ratios = [aspect_ratio] if aspect_ratios is None else list(aspect_ratios)
    if not ratios:
        raise SweepError("aspect_ratios is empty: give one ratio or more, e.g. --aspect-ratios 16,32,64")
    for ratio in ratios:
        _check_float("aspect_ratio", ratio, low=0.0)
    _check_int("head_dim", head_dim, minimum=1)
    _check_choice("flop_convention", flop_convention, FLOP_CONVENTIONS)
    unknown = set(run_options) - {f.name for f in fields(RunSpec)}
    if unknown:
        raise SweepError(f"unknown run option(s) {sorted(unknown)}; see RunSpec's fields")
    if "vocab_size" not in run_options:  # 256 for byte text; token files say their own
        from scalinglaws.sweep.data import vocab_size_of

        run_options["vocab_size"] = vocab_size_of(run_options.get("data", DataSpec()))  # type: ignore[arg-type]
    seq_len = int(run_options.get("seq_len", 128))  # type: ignore[call-overload]
    vocab_size = int(run_options["vocab_size"])  # type: ignore[call-overload]
    ffw_mult = int(run_options.get("ffw_mult", 4))  # type: ignore[call-overload]
    runs: list[RunSpec] = []
    for budget in sorted(float(b) for b in budgets):
        n_star = math.sqrt(budget / (6.0 * tokens_per_param))
        shapes: list[tuple[int, int, int]] = []
        for k in range(sizes_per_budget):
            t = 0.0 if sizes_per_budget == 1 else 2.0 * k / (sizes_per_budget - 1) - 1.0
            for ratio in ratios:
                shape = shape_for_params(n_star * spread**t, aspect_ratio=ratio,
                                         head_dim=head_dim, vocab_size=vocab_size,
                                         seq_len=seq_len, ffw_mult=ffw_mult)
                if shape not in shapes:
                    shapes.append(shape)
        if len(shapes) < sizes_per_budget * len(ratios):
            warnings.warn(
                f"budget {budget:g}: only {len(shapes)} distinct shapes of "
                f"{sizes_per_budget * len(ratios)} asked (sizes too close to round apart); widen "
                "--spread, lower --head-dim, or raise the budget",
                ScalingLawsWarning, stacklevel=2,
            )
        run_lr = float(f"{default_lr(budget):.3g}") if lr is None else lr
        run_batch = default_batch_size(budget, seq_len) if batch_size is None else batch_size
        for n_layer, d_model, n_head in shapes:
            probe = RunSpec(budget=budget, n_layer=n_layer, d_model=d_model, n_head=n_head,
                            n_tokens=1, batch_size=run_batch, lr=run_lr,
                            flop_convention=flop_convention, **run_options)  # type: ignore[arg-type]
            steps = max(1, round(budget / probe.flops_per_token() / probe.tokens_per_step))
            runs.append(replace(probe, n_tokens=steps * probe.tokens_per_step))
    rule: dict[str, object] = {
        "budgets": [float(b) for b in sorted(budgets)], "sizes_per_budget": sizes_per_budget,
        "flop_convention": flop_convention, "spread": float(spread),
        "tokens_per_param": float(tokens_per_param),
        "aspect_ratio": float(aspect_ratio), "head_dim": head_dim,
        "lr_rule": "deepseek" if lr is None else "fixed",
        "batch_rule": "deepseek" if batch_size is None else "fixed",
    }
    if aspect_ratios is not None:
        rule["aspect_ratios"] = [float(r) for r in ratios]
    return SweepDesign(runs=tuple(runs), rule=rule)


def _check_branch(spec: RunSpec) -> None:
    """A branch names a parent run and a step inside its own run; a plain run neither."""
    _check_int("branch_step", spec.branch_step, minimum=0)
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


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SweepError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_float(name: str, value: object, *, low: float, high: float = math.inf,
                 open_low: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and value <= high  # type: ignore[operator]
    if not ok:
        bound = f"{'>' if open_low else '>='} {low:g}" + (f" and <= {high:g}" if high < math.inf else "")
        raise SweepError(f"{name} must be a finite number {bound}, got {value!r}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SweepError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
