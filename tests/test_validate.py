"""Extrapolation tests: held-out metrics, intervals and their calibration, auto never peeking."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import app as cli
from scalinglaws.errors import DataError, FitError
from scalinglaws.judge.validate import Validation, holdout_mask, validate

pytestmark = pytest.mark.filterwarnings("ignore::scalinglaws.errors.ScalingLawsWarning")

BNSL_RMSLE = 0.01092  # authors' script re-run, SOURCE.md


def _curve(n: int = 15, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e6, 1e9, n)
    return pd.DataFrame({"x": x, "loss": (1.5 + 300 * x**-0.3) * np.exp(rng.normal(0, noise, n))})


def _bnsl(shared_data) -> pd.DataFrame:
    d = pd.read_csv(shared_data / "bnsl_4digit_addition" / "bnsl_4digit_addition.csv")
    return d.rename(columns={"train_dataset_size": "x", "test_cross_entropy": "loss"})


def test_bnsl_4digit_addition_extrapolates_like_the_authors(shared_data):
    """Catalog bnsl, default starts, on the authors' split (last 3 of 17 held out)."""
    d = _bnsl(shared_data)
    v = validate(d, "bnsl", holdout=(d.split == "extrapolate").to_numpy(), bootstrap=0)
    assert v.n_test == 3 and v.n_train == (14,)
    assert v.table["row"].tolist() == [14, 15, 16]
    # RMSLE as in SOURCE.md: sqrt(mean((log yhat - log y)^2)) on the 3 held-out points
    assert abs(v.rmse_log - BNSL_RMSLE) <= 0.2 * BNSL_RMSLE, v.rmse_log
    # the same through holdout="largest"
    assert validate(d, "bnsl", n=3, bootstrap=0).rmse_log == pytest.approx(v.rmse_log, rel=1e-9)


def test_metrics_and_table_of_an_exact_law():
    d = _curve()
    v = validate(d, "power", frac=0.2, bootstrap=0)
    assert isinstance(v, Validation)
    assert v.n_test == 3 and v.holdout == "largest" and v.by == "x"
    assert v.table["row"].tolist() == [12, 13, 14]
    assert v.rmse_log < 1e-6 and v.max_abs_rel_error < 1e-5 and v.coverage == 1.0
    for col in ("row", "fold", "x", "actual", "predicted", "lower", "upper", "log_error", "rel_error", "inside"):
        assert col in v.table.columns
    assert np.all(v.table.lower <= v.table.predicted) and np.all(v.table.predicted <= v.table.upper)
    text = json.dumps(v.to_dict())
    assert '"rmse_log"' in text
    assert repr(v).startswith("Validation(law='power', holdout='largest'")
    assert "coverage of 90% intervals" in v.summary()


def test_metrics_are_computed_in_log_space():
    d = _curve()
    d.loc[14, "loss"] *= 1.1  # the largest run 10 % above the law
    v = validate(d, "power", n=3, bootstrap=0)
    e = v.table.log_error.to_numpy()
    assert e[-1] == pytest.approx(-math.log(1.1), abs=1e-5)
    assert v.rmse_log == pytest.approx(math.sqrt(np.mean(e**2)))
    assert v.max_abs_rel_error == pytest.approx(1 - 1 / 1.1, rel=1e-4)


def test_holdout_mask_keeps_ties_together():
    s = np.array([1.0, 2.0, 3.0, 3.0, 4.0])
    assert holdout_mask(s, n=2).tolist() == [False, False, True, True, True]
    assert holdout_mask(s, frac=0.2).tolist() == [False, False, False, False, True]
    with pytest.raises(DataError, match="leaves none to fit"):
        holdout_mask(np.array([2.0, 2.0, 2.0]), n=1)


def test_leave_one_scale_out_and_multi_variable_law():
    rng = np.random.default_rng(3)
    n = np.repeat(np.geomspace(1e7, 1e9, 5), 4)
    d = np.tile(np.geomspace(1e9, 1e11, 4), 5)
    loss = (1.7 + 400 * n**-0.34 + 400 * d**-0.28) * np.exp(rng.normal(0, 0.003, n.size))
    df = pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss})
    starts = {"E": [1.0, 2.0], "A": [100.0, 1000.0], "B": [100.0, 1000.0], "alpha": [0.3], "beta": [0.3]}
    v = validate(df, "chinchilla", holdout="loso", by="n_params", bootstrap=0, starts=starts)
    assert v.holdout == "loso" and len(v.fits) == 5 and v.n_test == 20
    assert sorted(v.table.fold.unique()) == [0, 1, 2, 3, 4]
    assert v.rmse_log < 0.02
    w = validate(df, "chinchilla", frac=0.25, bootstrap=0, starts=starts)
    assert w.by == "flops"  # default scale of a law of several variables
    assert w.table.flops.min() >= df.assign(f=6 * n * d).f.sort_values().iloc[-w.n_test]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"frac": 1.5}, DataError, "frac must lie strictly between 0 and 1"),
        ({"n": 15}, DataError, "n must be an integer between 1 and 14"),
        ({"holdout": "smallest"}, DataError, "holdout must be 'largest', 'loso' or a boolean mask"),
        ({"holdout": np.ones(3, bool)}, DataError, "one entry per run"),
        ({"by": "n_params"}, DataError, "column 'n_params' is missing"),
        ({"level": 1.0}, FitError, "level must lie strictly between 0 and 1"),
        ({"bootstrap": -1}, FitError, "bootstrap must be a non-negative integer"),
    ],
)
def test_bad_options_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        validate(_curve(), "power", **kwargs)


def test_weights_array_is_split_with_the_runs():
    d = _curve()
    w = np.ones(len(d))
    v = validate(d, "power", n=3, bootstrap=0, weights=w)
    assert v.fit.n_runs == 12
    with pytest.raises(DataError, match="one value per run"):
        validate(d, "power", n=3, bootstrap=0, weights=np.ones(5))


def test_interval_coverage_is_calibrated():
    """Calibration: 100 seeded noisy curves of the power law (12 points, 2 % log-normal
    noise, the 3 largest held out), fitted by least squares with 20 bootstrap refits; the
    90 % predictive intervals must cover 80-97 % of the 300 held-out runs."""
    rng = np.random.default_rng(2024)
    x = np.geomspace(1e3, 1e6, 12)
    inside = []
    for rep in range(100):
        y = (1.0 + 20 * x**-0.35) * np.exp(rng.normal(0, 0.02, x.size))
        v = validate(pd.DataFrame({"x": x, "loss": y}), "power", n=3, bootstrap=20, seed=rep, level=0.9,
                     loss="squared")
        inside.extend(v.table.inside.tolist())
    coverage = float(np.mean(inside))
    assert 0.80 <= coverage <= 0.97, coverage


@pytest.mark.slow
def test_interval_coverage_is_calibrated_with_the_default_huber_fit():
    """As above with the default objective (Huber, delta 1e-3): 100 repetitions."""
    rng = np.random.default_rng(7)
    x = np.geomspace(1e3, 1e6, 12)
    inside = []
    for rep in range(100):
        y = (1.0 + 20 * x**-0.35) * np.exp(rng.normal(0, 0.02, x.size))
        v = validate(pd.DataFrame({"x": x, "loss": y}), "power", n=3, bootstrap=20, seed=rep, level=0.9)
        inside.extend(v.table.inside.tolist())
    assert 0.80 <= float(np.mean(inside)) <= 0.97


def test_predictive_intervals_widen_with_the_distance_beyond_the_data():
    """Without a bootstrap the interval is noise plus an extrapolation error that grows
    with the distance beyond the training runs: wider for each farther held-out run."""
    d = _curve(noise=0.02, seed=1)
    v = validate(d, "power", n=3, bootstrap=0)
    half = (np.log(v.table.upper) - np.log(v.table.predicted)).to_numpy()
    assert half[0] > 0.02 and np.all(np.diff(half) > 0)
    assert "extrapolation error growing" in v.interval
    f = v.fit
    lo, hi = f.predict_interval(0.9, x=d.x.iloc[:3].to_numpy())  # inside the data: noise only
    assert np.allclose(np.log(hi / lo), np.log(hi[0] / lo[0]))
    with pytest.raises(sl.FitError, match="no bootstrap draws"):
        f.predict_interval(0.9, kind="parameters", x=1e7)


# ----------------------------------------------------------------------------- auto never peeks


def test_auto_never_reads_held_out_rows(monkeypatch):
    """Poisoned held-out losses change nothing in the choice or the training fit, and the
    choice is handed only the training runs."""
    clean = _curve(n=16, noise=0.01, seed=5)
    poisoned = clean.copy()
    poisoned.loc[13:, "loss"] = [1e6, 1e-6, 42.0]
    seen: list[sl.Runs] = []
    import scalinglaws.judge.validate as select

    real = select.choose_law

    def spy(runs, *args, **kwargs):
        seen.append(runs)
        return real(runs, *args, **kwargs)

    monkeypatch.setattr(select, "choose_law", spy)
    a = validate(clean, "auto", n=3, bootstrap=0, candidates=["power", "m1", "m3"])
    b = validate(poisoned, "auto", n=3, bootstrap=0, candidates=["power", "m1", "m3"])
    assert len(seen) == 2 and all(len(r) == 13 for r in seen)
    assert all(r.column("x").max() < clean.x.iloc[13] for r in seen)
    assert seen[1].column("loss").max() < 1e3  # no poisoned value reached the choice
    sa, sb = a.selections[0], b.selections[0]
    assert sa.name == sb.name
    pd.testing.assert_frame_equal(sa.table, sb.table)
    assert a.fit.params == b.fit.params
    assert b.rmse_log > 1.0  # ... while the poisoned rows are indeed scored


# ----------------------------------------------------------------------------- CLI


def _cli(monkeypatch, argv):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.judge"))
    return cli.main(argv)


def test_cli_validate_json(monkeypatch, tmp_path, capsys):
    path = tmp_path / "curve.csv"
    _curve().to_csv(path, index=False)
    code = _cli(monkeypatch, ["validate", str(path), "--law", "power", "--n", "3", "--bootstrap", "0", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_test"] == 3 and out["rmse_log"] < 1e-6


def test_cli_validate_bad_frac_is_one_line_error(monkeypatch, tmp_path, capsys):
    path = tmp_path / "curve.csv"
    _curve().to_csv(path, index=False)
    code = _cli(monkeypatch, ["validate", str(path), "--law", "power", "--frac", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: frac must lie strictly between 0 and 1")


@pytest.mark.golden
def test_predictive_intervals_cover_the_largest_chinchilla_runs(golden_data):
    """Issue 12: 90 % predictive intervals of a fit on the smaller 80 % of Epoch's Chinchilla
    runs (by compute) cover 80-97 % of the largest 20 %, and validate says nothing is wrong;
    the bootstrap-only band (kind="parameters") is the narrower, separate answer."""
    runs = sl.load_runs(golden_data / "chinchilla_epoch" / "chinchilla_runs.csv",
                        columns={"n_params": "N_params", "n_tokens": "D_tokens", "loss": "loss"},
                        where="excluded_by_epoch == 0")
    v = validate(runs, "chinchilla", frac=0.2, level=0.9, bootstrap=0)
    assert v.by == "flops" and v.n_test == 48
    assert 0.80 <= v.coverage <= 0.97 and not v.undercovered and v.warnings == ()
    cal = v.fit.options["calibration"]
    assert cal["n_scores"] > 100 and cal["quantiles"] and cal["growth"] > 0
    assert "conformal" in v.interval


def test_undercoverage_is_flagged_loudly():
    """A curve that breaks beyond the training runs (its loss halves past x = 1e4, as in an
    emergent ability): nothing in the training runs foretells it, the intervals miss, and
    validate warns."""
    rng = np.random.default_rng(3)
    x = np.geomspace(10, 1e5, 20)
    y = (0.2 + 5 * x**-0.5) * np.where(x > 1.1e4, 0.5, 1.0) * np.exp(rng.normal(0, 0.005, x.size))
    with pytest.warns(sl.ScalingLawsWarning, match="too narrow"):
        v = validate(pd.DataFrame({"x": x, "loss": y}), "power", n=6, bootstrap=0, level=0.9)
    assert v.undercovered and "WARNING" in v.summary() and v.to_dict()["undercovered"] is True


def test_calibration_refits_batched_equal_the_refits_one_by_one(monkeypatch) -> None:
    # the nested refits of a calibration are one fit_each solve; one by one gives the same record
    import scalinglaws.judge.calibrate as cal

    runs = sl.datasets.load("chinchilla_epoch")
    batched = sl.fit(runs, "chinchilla", seed=0).options["calibration"]
    monkeypatch.setattr(cal, "MAX_BATCH_RUNS", 0)
    alone = sl.fit(runs, "chinchilla", seed=0).options["calibration"]
    assert batched["n_scores"] == alone["n_scores"] > 0
    assert batched["growth"] == pytest.approx(alone["growth"], rel=1e-6)
    assert batched["quantiles"] == pytest.approx(alone["quantiles"], rel=1e-6)
