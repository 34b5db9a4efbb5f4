"""Real data sets that ship inside the package, ready to fit.

Each is a small file under ``scalinglaws/data/bundled/`` with a note on its source,
licence and how it was cut from the published data (:func:`source`). :func:`load`
returns :class:`~scalinglaws.data.runs.Runs` for tables of runs (canonical columns
mapped, the source's own filter applied) and a plain :class:`pandas.DataFrame` for the
curve table. Command-line tools accept a bundled name wherever they take a runs file.

Examples
--------
>>> from scalinglaws.data import datasets
>>> "chinchilla_epoch" in datasets.names()
True
>>> len(datasets.load("chinchilla_epoch"))
240
>>> sorted(datasets.load("misfitting_curves").columns)[:4]
['loss', 'lr', 'n_params', 'n_tokens']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError

__all__ = ["BUNDLED", "Bundled", "load", "names", "path", "source"]


@dataclass(frozen=True)
class Bundled:
    """A data set shipped with the package: its file, how to read it, and what it holds.

    ``kind`` is ``"runs"`` (loaded with :func:`~scalinglaws.data.runs.load_runs`, using
    ``columns`` and ``where``) or ``"table"`` (read as it is, e.g. a long curve table).
    """

    name: str
    filename: str
    description: str
    kind: Literal["runs", "table"] = "runs"
    columns: dict[str, str] = field(default_factory=dict)
    where: str | None = None


BUNDLED: dict[str, Bundled] = {
    b.name: b
    for b in (
        Bundled(
            name="pythia_evals",
            filename="pythia_evals_0shot.csv",
            kind="table",
            description="Pythia zero-shot evaluations (Biderman et al. 2023): accuracy of 6 tasks and LAMBADA "
            "perplexity by model (70M-12B, standard and deduplicated) and checkpoint, a slice of EleutherAI's "
            "evaluation files",
        ),
        Bundled(
            name="chinchilla_epoch",
            filename="chinchilla_epoch.csv",
            columns={"n_params": "N_params", "n_tokens": "D_tokens", "flops": "C_flop", "loss": "loss"},
            where="excluded_by_epoch == 0",
            description="240 Chinchilla runs (Hoffmann et al. 2022, Fig. 4) as extracted and filtered by "
            "Epoch AI (Besiroglu et al. 2024): n_params, n_tokens, flops, loss",
        ),
        Bundled(
            name="gadre_overtraining",
            filename="gadre_overtraining.csv",
            columns={"n_params": "N_params", "n_tokens": "D_tokens", "tokens_per_param": "tok_mult_M", "loss": "loss_c4_val"},
            description="104 over-trained LMs of Gadre et al. (2024): n_params, n_tokens, tokens_per_param, "
            "C4 validation loss and mean downstream top-1 error (err_avg_subset_17, err_avg_46)",
        ),
        Bundled(
            name="misfitting_curves",
            filename="misfitting_curves.csv",
            kind="table",
            description="loss curves of Li et al. (2025): one 142M-parameter model, 3 peak LRs x 4 cosine "
            "lengths (12 runs); columns run, step, loss, lr (reconstructed), peak_lr, total_steps, warmup_steps",
        ),
        Bundled(
            name="misfitting_lr_sweep",
            filename="misfitting_lr_sweep.csv",
            description="final losses of Li et al. (2025) at 3 peak learning rates per (n_params, n_tokens): "
            "n_params, n_tokens, lr, loss",
        ),
        Bundled(
            name="porian_isoflop",
            filename="porian_isoflop.csv",
            description="IsoFLOP points of Porian et al. (2024), 'Cosine decay', RefinedWeb, validation loss: "
            "flops, n_params, n_tokens, loss at 12 budgets",
        ),
        Bundled(name="gemstones_shapes", filename="gemstones_shapes.csv", description="22 Gemstones shapes (McLeish et al. 2025; widths 256-3072, depths 3-80) at 20B, 50B, 100B and 350B tokens: model, d_model, n_layer, n_params, step, n_tokens, loss"),
        Bundled(name="goyal_filtering_sim", filename="goyal_filtering_sim.csv", columns={"n_tokens": "samples_seen", "unique_tokens": "pool_size", "loss": "error"}, description="SIMULATED: ImageNet error of 4 T-MARS pools (top 0-10 % ... 30-40 %) against samples seen, from the data_filtering law at the constants Goyal et al. (2024) publish in their repository, with 0.5 % noise: pool, samples_seen, pool_size, error"),  # noqa: E501
        Bundled(name="precision_sim", filename="precision_sim.csv", description="SIMULATED runs (no released data): 300 for kumar_precision (law == 'kumar_precision': n_params, n_tokens, precision_w/a/kv) and 180 for fp_quant (law == 'fp_quant': exponent_bits, mantissa_bits, block_size), generated from the laws with 0.5 % noise; see the .md"),
        Bundled(name="densing_simulated", filename="densing_simulated.csv", kind="table", description="SIMULATED capability densities at the release dates and label sizes of the 29 models of Xiao et al. (2024), Fig. 1, drawn from their printed trend (A = 0.0073/day): model, release_date, n_params, density"),
        Bundled(name="published_base_models", filename="published_base_models.csv", kind="table", description="MMLU (5-shot) of 19 open base models released Feb 2023 - Jul 2024 (Llama-1/2/3, Falcon, MPT, Mistral, MiniCPM, Gemma, Gemma 2) as printed in their own papers or model cards, with release dates and label sizes: model, family, release_date, n_params, mmlu_5shot, source"),
        Bundled(name="lin_finetune_flan", filename="lin_finetune_flan.csv", kind="table", description="fine-tuning test loss of 30 pre-trained models on FLAN subsets of 200-1,638,400 examples (and zero-shot, 0) from Lin et al. (2024): model, family, n_params, finetune_examples, loss"),
        Bundled(name="ye_continual_pretraining", filename="ye_continual_pretraining.csv", kind="table", description="Pythia-70M continually pre-trained on Pile + Python at 5 mixtures, and before: validation loss on 22 Pile domains (with their weights) and on Python, step 10000 (Ye et al. 2024, Sec. 5, the authors' data): run, pile_share, python_share, valid_domain, valid_weight, loss"),
        Bundled(name="sparsing_activation", filename="sparsing_activation.csv", kind="table", description="activation ratio against training tokens of 6 ReLU and 5 SiLU models, 0.1B-2.4B (Luo et al. 2024, the authors' curve-fitting data): model, n_params, activation, n_tokens, activation_ratio"),
        Bundled(
            name="tiny_sweep",
            filename="tiny_sweep.db",
            description="a sweep store made by `scalinglaws sweep run` (10 byte-level transformers, 3 budgets "
            "1e10-1e11 FLOPs): n_params, n_tokens, flops, loss and every run's held-out curve",
        ),
    )
}


def names() -> list[str]:
    """The bundled data sets' names, sorted."""
    return sorted(BUNDLED)


def _get(name: str) -> Bundled:
    b = BUNDLED.get(name) if isinstance(name, str) else None
    if b is None:
        raise DataError(f"no bundled data set {name!r}; bundled: {', '.join(names())}")
    return b


def path(name: str) -> Path:
    """Where a bundled data set's file lies."""
    return Path(str(resources.files("scalinglaws.data") / "bundled" / _get(name).filename))


def source(name: str) -> str:
    """The data set's source note: where it comes from, its licence and how it was cut."""
    p = path(name).with_suffix(".md")
    return p.read_text(encoding="utf-8")


def load(name: str) -> Runs | pd.DataFrame:
    """Load a bundled data set: :class:`Runs` with canonical columns, or a DataFrame for a table.

    Raises
    ------
    DataError
        If no bundled data set has that name.
    """
    b = _get(name)
    if b.kind == "table":
        return pd.read_csv(path(name))
    return load_runs(path(name), columns=b.columns or None, where=b.where)
