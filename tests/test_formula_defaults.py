"""Formula laws fit with default options: roles, bounds and starts read from the formula
(laws/starts.py), checked on real data against the optimum of the papers' own grids."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.errors import LawError
from scalinglaws.laws.starts import analyse

EPOCH_OBJECTIVE = 0.00101827  # Besiroglu et al. 2024, the Chinchilla refit's objective


def _roles(formula: str) -> dict[str, str]:
    law = sl.get_law(formula)
    roles, _, _ = analyse(formula, law.variables, law.param_names)
    return {n: r.kind for n, r in roles.items()}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("E + A / n_params**alpha + B / n_tokens**beta",
         {"E": "floor", "A": "coefficient", "alpha": "exponent", "B": "coefficient", "beta": "exponent"}),
        ("E + (N_c / x)**alpha", {"E": "floor", "N_c": "scale", "alpha": "exponent"}),
        ("(x / N_c)**-alpha + E", {"E": "floor", "N_c": "scale", "alpha": "exponent"}),
        ("L + k * n_params_encoder**(-p_e) * n_params_decoder**(-p_d)",
         {"L": "floor", "k": "coefficient", "p_e": "exponent", "p_d": "exponent"}),
        ("L0 + A / (1 + exp(-k * (log(x) - x0)))", {"L0": "offset", "A": "amplitude", "k": "other", "x0": "location"}),
        ("a + b * log(x)", {"a": "offset", "b": "amplitude"}),
    ],
)
def test_roles_from_the_structure(formula: str, expected: dict[str, str]) -> None:
    assert _roles(formula) == expected


def test_bounds_follow_the_roles() -> None:
    law = sl.get_law("E + A * x**-alpha")
    E, A, alpha = (law.param(n) for n in ("E", "A", "alpha"))
    assert (E.lower, E.upper, E.log) == (0.0, math.inf, False)
    assert A.lower == 0.0 and A.log
    assert (alpha.lower, alpha.upper) == (0.0, 2.0)
    # described parameters keep what the user said; the rest are still derived
    law = sl.formula_law("E + A * x**-alpha", params={"alpha": {"lower": 0.1, "upper": 0.9, "grid": (0.5,)}})
    assert (law.param("alpha").lower, law.param("alpha").upper) == (0.1, 0.9)
    assert law.param("A").log


def test_starts_come_from_the_data() -> None:
    x = np.geomspace(1e6, 1e9, 10)
    y = 2.0 + 400 * x**-0.3
    law = sl.get_law("E + A * x**-alpha")
    grid = law.start_grid({"x": x}, y)
    E = sorted(set(grid[:, 0]))
    assert E[0] == 0.0 and max(E) < y.min()
    A = grid[:, 1]
    assert A.min() < 400 < A.max()  # the coefficient grid spans the truth


@pytest.mark.parametrize("name", ["e", "pi"])
def test_e_and_pi_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(LawError, match=f"'{name}'") as err:
        sl.get_law(f"{name} + A * x**-alpha")
    assert "\n" not in str(err.value)


def test_chinchilla_as_a_string_reaches_epochs_optimum(shared_data) -> None:
    """Chinchilla's form, written as a string, with no options at all."""
    runs = sl.load_runs(
        shared_data / "chinchilla_epoch" / "chinchilla_runs.csv",
        columns={"n_params": "N_params", "n_tokens": "D_tokens", "loss": "loss"},
        where="excluded_by_epoch == 0",
    )
    f = sl.fit(runs, "E + A / n_params**alpha + B / n_tokens**beta")
    assert f.objective <= EPOCH_OBJECTIVE * 1.01
    assert f.params["alpha"] == pytest.approx(0.3473, rel=0.01)
    assert f.ok


def _gadre(shared_data, train: str) -> pd.DataFrame:
    """Gadre et al. 2024's loss-law fit set: four small models at M = 20, plus d=96 at M = 320."""
    g = pd.read_csv(shared_data / "gadre_overtraining" / "gadre_models.csv")
    small = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]
    keep = (g.train_dataset == train) & g.model_name.isin(small) & (
        (g.tok_mult_M == 20) | ((g.model_name == small[0]) & (g.tok_mult_M == 320))
    )
    d = g[keep].groupby(["model_name", "tok_mult_M"], as_index=False).first()
    return pd.DataFrame({"n_params": d.N_params, "n_tokens": d.D_tokens, "loss": d.loss_c4_val})


@pytest.mark.parametrize("train", ["c4_original", "rpj", "rw_original"])
def test_gadre_law_as_a_string_reaches_the_papers_grid_optimum(shared_data, train: str) -> None:
    """E + a N^e + b 6^(e/2) (M N)^e (Gadre et al.'s code, D = M N), least squares in loss
    space from their 128-start grid, against the same law with default starts."""
    df = _gadre(shared_data, train)
    form = "E + a / n_params**alpha + b / n_tokens**alpha"
    paper = {"a": [1e2, 3e2, 1e3, 3e3], "alpha": [0.1, 0.3], "E": [0.0, 1.0, 2.0, 10.0],
             # b' = b 6^(-e/2): the paper's b grid, folded as their code does, for both e starts
             "b": sorted({b * 6 ** (e / 2) for b in (1e2, 3e2, 1e3, 3e3) for e in (0.1, 0.3)})}
    ref = sl.fit(df, form, loss="squared", space="linear", starts=paper)
    mine = sl.fit(df, form, loss="squared", space="linear")
    assert mine.objective <= ref.objective * 1.01
    published = pd.read_csv(shared_data / "gadre_overtraining" / "reproduced_fit_params.csv")
    row = published[published.train == train].iloc[0]
    assert mine.params["alpha"] == pytest.approx(-row.exponent_e, rel=1e-3)
    assert mine.params["E"] == pytest.approx(row.E, rel=1e-3)


def _ladders(shared_data):
    m = pd.read_csv(shared_data / "misfitting_li2025" / "misfitting_final_checkpoints.csv")
    best = m.groupby("N").loss.min().reset_index()
    yield "misfitting", pd.DataFrame({"x": best.N, "loss": best.loss})
    p = pd.read_csv(shared_data / "porian_discrepancies" / "porian_isoflop_optima.csv")
    d = p[(p.label == "Cosine decay") & (p.source_file == "summary_df.pickle.xz")].dropna(subset=["loss_star"])
    yield "porian", pd.DataFrame({"x": d.flops, "loss": d.loss_star})


def test_kaplan_style_floor_law_on_real_ladders(shared_data) -> None:
    """L = E + (N_c / x)**alpha: with one start at 1.0 it ended 2-30x above the optimum."""
    careful = {"E": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0], "N_c": list(np.geomspace(1e3, 1e22, 20)),
               "alpha": [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2]}
    for name, df in _ladders(shared_data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sl.ScalingLawsWarning)
            ref = sl.fit(df, "E + (N_c / x)**alpha", starts=careful)
        mine = sl.fit(df, "E + (N_c / x)**alpha")
        assert mine.objective <= ref.objective * 1.01, name
        assert mine.params["N_c"] > 0 and 0 < mine.params["alpha"] < 2, name


def test_sigmoid_formula_fits_without_a_traceback() -> None:
    x = np.geomspace(1e6, 1e9, 12)
    y = 2 + 1.5 / (1 + np.exp(-1.2 * (np.log(x) - np.log(3e7))))
    f = sl.fit(pd.DataFrame({"x": x, "loss": y}), "L0 + A / (1 + exp(-k * (log(x) - x0)))")
    assert f.objective < 1e-12
    assert f.predict(x=3e7) == pytest.approx(2.75, rel=1e-6)
