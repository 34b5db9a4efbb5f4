"""The rectified fine-tuning law (Lin et al. 2024): added as its file, its catalog line and its case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl

TRUTH = {"B": 2000.0, "D_l": 300.0, "beta": 0.6, "E": 1.5}


def _curve(d: np.ndarray, p: dict[str, float]) -> np.ndarray:
    return p["B"] / (p["D_l"] + d ** p["beta"]) + p["E"]


def test_the_law_is_the_papers_formula() -> None:
    law = sl.get_law("rectified")
    d = np.geomspace(10, 1e6, 7)
    assert np.allclose(law(TRUTH, finetune_examples=d), _curve(d, TRUTH), rtol=1e-12)
    # the pre-power phase: while D^beta << D_l the loss hardly moves
    early = law(TRUTH, finetune_examples=np.array([1.0, 10.0]))
    assert abs(early[0] - early[1]) / early[0] < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_known_parameters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = np.geomspace(30, 3e5, 24)
    loss = _curve(d, TRUTH) * np.exp(rng.normal(0, 0.002, d.size))
    f = sl.fit(pd.DataFrame({"finetune_examples": d, "loss": loss}), "rectified")
    for name, value in TRUTH.items():
        assert f.params[name] == pytest.approx(value, rel=0.1), name
    assert f.diagnostics.converged


def test_exact_data_are_fitted_exactly() -> None:
    d = np.geomspace(30, 3e5, 24)
    f = sl.fit(pd.DataFrame({"examples": d, "ft_loss": _curve(d, TRUTH)}), "rectified",
               variables={"finetune_examples": "examples"}, target="ft_loss")  # fmt: skip
    for name, value in TRUTH.items():
        assert f.params[name] == pytest.approx(value, rel=1e-4), name


def test_fine_tuning_data_must_be_positive() -> None:
    frame = pd.DataFrame(
        {
            "finetune_examples": [0.0, 10.0, 100.0, 1000.0, 1e4],
            "loss": [3.0, 2.9, 2.5, 2.0, 1.8],
        }
    )
    with pytest.raises(
        sl.DataError,
        match=r"'finetune_examples' for fitting 'rectified'.*must be > 0 \(in examples",
    ):
        sl.fit(frame, "rectified")
