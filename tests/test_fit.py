"""The fitting engine: the Chinchilla golden test, practitioners' options, diagnostics."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws import datasets

EPOCH = {"E": 1.8172, "A": 477.8, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672}
EPOCH_CI = {"alpha": (0.317, 0.373), "beta": (0.331, 0.415), "E": (1.769, 1.871)}
CI_TOL = {"alpha": 0.01, "beta": 0.015, "E": 0.02}


@pytest.fixture(scope="module")
def epoch_runs(shared_data):
    return sl.load_runs(
        shared_data / "chinchilla_epoch" / "chinchilla_runs.csv",
        columns={"n_params": "N_params", "n_tokens": "D_tokens", "loss": "loss"},
        where="excluded_by_epoch == 0",
    )


@pytest.fixture(scope="module")
def epoch_fit(epoch_runs):
    return sl.fit(epoch_runs, "chinchilla", bootstrap=1000, seed=0)


def test_golden_chinchilla_epoch_refit(epoch_fit) -> None:
    """Epoch AI's refit of Chinchilla (Besiroglu et al. 2024) on the 240 runs."""
    assert epoch_fit.objective <= 0.00101828
    for name, value in EPOCH.items():
        assert epoch_fit.params[name] == pytest.approx(value, rel=0.005), name
    ci = epoch_fit.intervals(0.95)
    for name, (lo, hi) in EPOCH_CI.items():
        assert abs(ci[name][0] - lo) <= CI_TOL[name], (name, ci[name])
        assert abs(ci[name][1] - hi) <= CI_TOL[name], (name, ci[name])
    d = epoch_fit.diagnostics
    assert d.converged and not d.at_bounds and not d.poorly_identified
    assert d.bootstrap_failed == 0


def test_bundled_data_set_is_the_same_data(epoch_runs) -> None:
    bundled = datasets.load("chinchilla_epoch")
    assert len(bundled) == len(epoch_runs) == 240
    assert np.allclose(bundled.column("n_params"), epoch_runs.column("n_params"))
    assert np.allclose(bundled.column("loss"), epoch_runs.column("loss"))
    assert "Epoch" in datasets.source("chinchilla_epoch")


def test_predict_broadcasts_and_bands(epoch_fit) -> None:
    p = epoch_fit.predict(n_params=7e10, n_tokens=1.4e12)
    assert p.shape == () and 1.9 < float(p) < 2.1
    grid = epoch_fit.predict(n_params=np.array([[1e9], [1e10]]), n_tokens=np.array([1e10, 1e11, 1e12]))
    assert grid.shape == (2, 3)
    assert np.all(np.diff(grid, axis=1) < 0) and np.all(np.diff(grid, axis=0) < 0)
    lo, hi = epoch_fit.predict_interval(0.9, n_params=np.array([1e9, 7e10]), n_tokens=1.4e12)
    assert lo.shape == hi.shape == (2,)
    mid = epoch_fit.predict(n_params=np.array([1e9, 7e10]), n_tokens=1.4e12)
    assert np.all(lo < mid) and np.all(mid < hi)


def test_json_round_trip_with_provenance(epoch_fit) -> None:
    text = epoch_fit.to_json()
    back = sl.Fit.from_json(text)
    assert back.params == epoch_fit.params
    assert back.to_json() == text
    assert np.allclose(back.predict(n_params=1e10, n_tokens=2e11), epoch_fit.predict(n_params=1e10, n_tokens=2e11))
    prov = json.loads(text)["provenance"]
    assert prov["seed"] == 0 and prov["n_runs"] == 240 and len(prov["data_fingerprint"]) == 64
    assert "Fit(law='chinchilla'" in repr(epoch_fit)
    assert "95% interval" in epoch_fit.report()


def test_same_seed_same_numbers(epoch_runs) -> None:
    a = sl.fit(epoch_runs, "chinchilla", bootstrap=30, seed=7)
    b = sl.fit(epoch_runs, "chinchilla", bootstrap=30, seed=7)
    c = sl.fit(epoch_runs, "chinchilla", bootstrap=30, seed=8)
    assert a.to_json() == b.to_json()
    assert not np.array_equal(a.draws, c.draws)


def test_results_do_not_depend_on_the_thread_count(epoch_runs, monkeypatch) -> None:
    outs = []
    for threads in ("1", "3"):
        monkeypatch.setenv("SCALINGLAWS_THREADS", threads)
        outs.append(sl.fit(epoch_runs, "chinchilla", bootstrap=40, seed=1).to_json())
    assert outs[0] == outs[1]


def test_a_fit_is_immutable(epoch_fit) -> None:
    with pytest.raises(TypeError):
        epoch_fit.params["E"] = 1.0  # type: ignore[index]
    with pytest.raises(ValueError):
        epoch_fit.draws[0, 0] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        epoch_fit.objective = 0.0  # type: ignore[misc]


def test_pruned_race_finds_the_exhaustive_optimum(epoch_runs) -> None:
    raced = sl.fit(epoch_runs, "chinchilla")
    exhaustive = sl.fit(epoch_runs, "chinchilla", prune=False)
    assert raced.diagnostics.n_refined < exhaustive.diagnostics.n_refined == 4500
    assert raced.objective == pytest.approx(exhaustive.objective, rel=1e-9)


def test_small_grids_run_every_start_to_convergence() -> None:
    # henighan's fixed C_0 starts lie decades below this C_0; racing them once lost the optimum
    rng = np.random.default_rng(1)
    C = np.geomspace(1e17, 1e23, 25)
    loss = sl.get_law("henighan")({"L_inf": 1.7, "C_0": 1e25, "alpha": 0.15}, flops=C) * np.exp(rng.normal(0, 0.01, C.size))
    df = pd.DataFrame({"flops": C, "loss": loss})
    fit = sl.fit(df, "henighan", starts={"C_0": [1e3, 1e8, 1e13]})
    # L_inf is linear: projection leaves one start per (C_0, alpha), 3 x 3, and none is raced away
    assert fit.diagnostics.n_starts == 27 and fit.diagnostics.n_refined == 9
    assert fit.objective == pytest.approx(sl.fit(df, "henighan", prune=False).objective, rel=1e-9)


def _synthetic(seed: int = 0, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    NN, DD = np.meshgrid(np.geomspace(1e8, 1e10, 8), np.geomspace(1e9, 1e11, 8))
    pick = rng.choice(NN.size, n, replace=False)
    N, D = NN.ravel()[pick], DD.ravel()[pick]
    loss = sl.get_law("chinchilla")(EPOCH, n_params=N, n_tokens=D) * np.exp(rng.normal(0, 0.003, n))
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": loss})


def test_fixed_parameters_are_kept_with_their_source() -> None:
    fit = sl.fit(_synthetic(), "chinchilla", fixed={"E": 1.69}, fixed_source="Hoffmann et al. 2022")
    assert fit.params["E"] == 1.69 and fit.fixed == {"E": 1.69}
    assert "E" not in fit.law.param_names
    back = sl.Fit.from_json(fit.to_json())
    assert back.fixed_source == "Hoffmann et al. 2022" and back.params["E"] == 1.69
    assert "fixed (Hoffmann et al. 2022)" in fit.report()
    # a pinned exponent works the same way
    pinned = sl.fit(_synthetic(), "chinchilla", fixed={"alpha": 0.34})
    assert pinned.params["alpha"] == 0.34


def test_weights_change_the_fit_and_zero_weight_drops_a_run() -> None:
    df = _synthetic()
    df.loc[0, "loss"] *= 1.5  # a broken run
    w = np.ones(len(df))
    w[0] = 0.0
    clean = sl.fit(df.drop(index=0), "chinchilla")
    weighted = sl.fit(df, "chinchilla", weights=w)
    assert weighted.objective == pytest.approx(clean.objective, rel=1e-6)
    df["w"] = w
    by_column = sl.fit(df, "chinchilla", weights="w")
    assert by_column.params == pytest.approx(weighted.params)


def test_asymmetric_penalty_fits_the_lower_envelope() -> None:
    rng = np.random.default_rng(3)
    x = np.geomspace(1e6, 1e9, 60)
    frontier = 1.5 + 300 * x**-0.3
    runs = pd.DataFrame({"x": x, "loss": frontier * np.exp(np.abs(rng.normal(0, 0.03, x.size)))})
    mean_fit = sl.fit(runs, "power", loss="squared")
    envelope = sl.fit(runs, "power", loss="squared", asymmetry=100.0)
    def share_above(f):
        return np.mean(f.predict(x=x) <= runs["loss"].to_numpy() * (1 + 1e-9))

    assert share_above(envelope) > 0.85  # nearly every run lies on or above the envelope
    assert share_above(mean_fit) < 0.7
    assert np.mean(np.abs(np.log(envelope.predict(x=x) / frontier))) < np.mean(np.abs(np.log(mean_fit.predict(x=x) / frontier)))


def test_groups_share_a_floor() -> None:
    rng = np.random.default_rng(5)
    x = np.geomspace(1e6, 1e9, 20)
    rows = []
    for name, A, alpha in [("c4", 300.0, 0.3), ("pile", 80.0, 0.25)]:
        y = (1.6 + A * x**-alpha) * np.exp(rng.normal(0, 0.002, x.size))
        rows.append(pd.DataFrame({"x": x, "loss": y, "dataset": name}))
    df = pd.concat(rows, ignore_index=True)
    fit = sl.fit(df, "power", groups="dataset", shared=["E"], loss="squared")
    assert set(fit.params) == {"E", "A_c4", "A_pile", "alpha_c4", "alpha_pile"}
    assert fit.params["E"] == pytest.approx(1.6, rel=0.05)
    assert fit.params["alpha_c4"] == pytest.approx(0.3, rel=0.1)
    assert fit.params["alpha_pile"] == pytest.approx(0.25, rel=0.1)
    pred = fit.predict(x=np.array([1e7, 1e7]), dataset=np.array(["c4", "pile"]))
    assert pred[0] > pred[1]
    back = sl.Fit.from_json(fit.to_json())
    assert np.allclose(back.predict(x=1e7, dataset="c4"), pred[0])
    with pytest.raises(sl.LawError, match="unknown group 'wiki'"):
        fit.predict(x=1e7, dataset="wiki")


def test_user_formula_and_python_function_laws() -> None:
    df = _synthetic().assign(loss=lambda d: 1.7 + 400 / d.n_params**0.33)
    by_string = sl.fit(df, "E + A / n_params**alpha")
    assert by_string.params["alpha"] == pytest.approx(0.33, rel=0.02)
    assert sl.Fit.from_json(by_string.to_json()).params == by_string.params

    def law(n_params, E, A, alpha):
        return E + A * n_params ** (-alpha)

    by_function = sl.fit(df, law)
    assert by_function.params["alpha"] == pytest.approx(0.33, rel=0.02)
    with pytest.raises(sl.LawError, match="Python function"):
        sl.Fit.from_json(by_function.to_json())
    assert sl.Fit.from_json(by_function.to_json(), law=law).params == by_function.params


def test_map_a_column_to_a_law_variable() -> None:
    df = _synthetic()
    fit = sl.fit(df.assign(loss=2 + 50 * df.n_params**-0.2), "power", variables={"x": "n_params"})
    assert fit.params["alpha"] == pytest.approx(0.2, rel=0.02)
    assert np.isclose(fit.predict(n_params=1e9), fit.predict(x=1e9))


def test_flags_parameters_the_data_cannot_identify() -> None:
    df = _synthetic()
    df["n_tokens"] = 2e10  # every run at one D: B and beta are not separately identified
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = sl.fit(df, "chinchilla")
    assert np.isfinite(fit.objective)
    assert set(fit.diagnostics.poorly_identified) & {"B", "beta", "E"}
    assert any("poorly identified" in str(w.message) for w in caught)


def test_reports_a_parameter_at_its_bound() -> None:
    x = np.geomspace(1e6, 1e9, 20)
    df = pd.DataFrame({"x": x, "loss": 300 * x**-0.3})  # no floor: E ends at 0
    with pytest.warns(sl.ScalingLawsWarning, match="at a bound: E"):
        fit = sl.fit(df, "power")
    assert fit.diagnostics.at_bounds == ("E",)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"n_params": [1e9, 2e9], "n_tokens": [1e10, 2e10], "loss": [3.0, 2.9]}), "at least 5 runs"),
        (pd.DataFrame({"x": [1e3, 1e4, 1e5, 1e6]}), "loss"),
        (pd.DataFrame({"n_params": [1e9, 2e9, 3e9, 4e9, 5e9, 6e9], "loss": [3.0] * 6}), "n_tokens"),
    ],
)
def test_bad_input_is_a_clear_error(frame: pd.DataFrame, match: str) -> None:
    law = "chinchilla" if "n_params" in frame else "power"
    with pytest.raises(sl.DataError, match=match):
        sl.fit(frame, law)


def test_negative_loss_in_log_space_names_the_row() -> None:
    df = _synthetic()
    df.loc[4, "loss"] = -1.0
    with pytest.raises(sl.DataError, match="row 4"):
        sl.fit(df, "chinchilla")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "l1"}, "loss must be"),
        ({"delta": 0}, "delta"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"asymmetry": -2}, "asymmetry"),
        ({"fixed": {"Q": 1.0}}, "no parameter 'Q'"),
        ({"variables": {"z": "n_params"}}, "no variable 'z'"),
        ({"weights": [1.0, 2.0]}, "one value per run"),
        ({"groups": "missing"}, "not a column"),
    ],
)
def test_bad_options_are_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(sl.ScalingLawsError, match=match):
        sl.fit(_synthetic(), "chinchilla", **kwargs)


def test_unknown_law_suggests_a_name() -> None:
    with pytest.raises(sl.LawError, match="did you mean 'chinchilla'"):
        sl.fit(_synthetic(), "chinchila")


def test_intervals_need_bootstrap() -> None:
    fit = sl.fit(_synthetic(), "chinchilla")
    with pytest.raises(sl.FitError, match="bootstrap"):
        fit.intervals()


def test_many_runs_race_on_a_subsample_and_refine_on_all(monkeypatch) -> None:
    import importlib

    fit_module = importlib.import_module("scalinglaws.engine.fit")

    df = _synthetic(n=64)
    direct = sl.fit(df, "chinchilla")
    monkeypatch.setattr(fit_module, "RACE_THRESHOLD", 30)
    monkeypatch.setattr(fit_module, "RACE_SAMPLE", 24)
    monkeypatch.setattr(fit_module, "BOOTSTRAP_BLOCK_ELEMENTS", 64 * 7)  # several bootstrap blocks
    raced = sl.fit(df, "chinchilla", bootstrap=20, seed=0)
    assert raced.objective == pytest.approx(direct.objective, rel=1e-6)
    assert raced.params == pytest.approx(direct.params, rel=1e-3)
    assert raced.draws.shape == (20, 5) and np.isfinite(raced.draws).all()


def test_auto_says_what_it_chose() -> None:
    x = np.geomspace(10, 1e4, 16)
    fit = sl.fit(pd.DataFrame({"x": x, "loss": 0.5 + 3 * x**-0.4}), "auto", candidates=["m1", "power"])
    assert fit.law.name == "power"
    text = fit.report()
    assert "chosen automatically" in text and "m1" in text
    with pytest.raises(sl.FitError, match="auto"):
        sl.fit(pd.DataFrame({"x": x, "loss": 0.5 + 3 * x**-0.4}), "power", candidates=["m1"])


def test_flat_objective_warning_reads_large_spreads_as_factors() -> None:
    from scalinglaws.engine.diagnose import _relative

    assert _relative(0.253) == "25.3%"
    assert _relative(2384383641.894) == "a factor 2.38e+09"  # was "238438364189.4%"
