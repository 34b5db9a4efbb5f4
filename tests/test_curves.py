"""Loss curves under LR schedules: fit_curves, predict_curve, best WSD cooldown, the curve CLI."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
import scalinglaws.cli.app as cli
from scalinglaws import schedules
from scalinglaws.dynamics.curves import CurveFit, best_cooldown, fit_curves, load_curves
from scalinglaws.errors import DataError, LawError, ScalingLawsWarning
from scalinglaws.laws import get_law

TRUTH = {"L0": 2.0, "A": 1.37, "alpha": 0.3, "C": 1.2}
PEAK, STEPS, WARMUP = 3e-4, 10_000, 500


def _law_curve(lrs: np.ndarray, params: dict[str, float] = TRUTH) -> np.ndarray:
    s1, s2 = schedules.areas(lrs)
    return get_law("lr_annealing")(params, s1=s1, s2=s2)


def _table(scheds: dict[str, np.ndarray], *, every: int = 100, noise: float = 0.0, seed: int = 0, lr: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for run, lrs in scheds.items():
        loss = _law_curve(lrs)
        for s in range(every, len(lrs) + 1, every):
            row = {"run": run, "step": s, "loss": loss[s - 1] * (1 + noise * rng.standard_normal())}
            if lr:
                row["lr"] = lrs[s - 1]
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def train_schedules() -> dict[str, np.ndarray]:
    return {
        "constant": schedules.constant(PEAK, STEPS, warmup=WARMUP),
        "cosine": schedules.cosine(PEAK, STEPS, warmup=WARMUP),
    }


@pytest.fixture(scope="module")
def noiseless_fit(train_schedules: dict[str, np.ndarray]) -> CurveFit:
    return fit_curves(_table(train_schedules, lr=False), schedules=train_schedules)


# --------------------------------------------------------------------------- fitting and prediction


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constant_and_cosine_curves_predict_a_wsd_final_loss_within_half_a_percent(
    train_schedules: dict[str, np.ndarray], seed: int
) -> None:
    table = _table(train_schedules, noise=0.003, seed=seed, lr=False)
    cf = fit_curves(table, "lr_annealing", schedules=train_schedules)
    target = schedules.wsd(PEAK, STEPS, warmup=WARMUP, cooldown=0.2, shape="sqrt")
    truth = _law_curve(target)[-1]
    error = abs(cf.predict_final(target) - truth) / truth
    assert error < 0.005


def test_noiseless_curves_recover_the_law(noiseless_fit: CurveFit) -> None:
    for name, value in TRUTH.items():
        assert noiseless_fit.params[name] == pytest.approx(value, rel=1e-4)
    assert noiseless_fit.runs == ("constant", "cosine")
    assert noiseless_fit.n_points == 200


def test_predict_curve_gives_every_step_or_the_steps_asked(noiseless_fit: CurveFit) -> None:
    lrs = schedules.step(PEAK, 4000, milestones=(0.5, 0.8), warmup=200)
    full = noiseless_fit.predict_curve(lrs)
    assert full.shape == (4000,)
    assert np.allclose(full, _law_curve(lrs), rtol=1e-4)
    some = noiseless_fit.predict_curve(lrs, steps=[1000, 4000])
    assert np.allclose(some, full[[999, 3999]])
    with pytest.raises(DataError, match="between 1 and the schedule's length 4000"):
        noiseless_fit.predict_curve(lrs, steps=[0])


def test_fit_curves_is_an_ordinary_fit_of_the_rows(train_schedules: dict[str, np.ndarray], noiseless_fit: CurveFit) -> None:
    rows = []
    for run, lrs in train_schedules.items():
        s1, s2 = schedules.areas(lrs)
        loss = _law_curve(lrs)
        idx = np.arange(99, STEPS, 100)
        rows.append(pd.DataFrame({"s1": s1[idx], "s2": s2[idx], "loss": loss[idx]}))
    direct = sl.fit(pd.concat(rows, ignore_index=True), "lr_annealing")
    for name in TRUTH:
        assert direct.params[name] == pytest.approx(noiseless_fit.params[name], rel=1e-6)


def test_lr_logged_every_step_matches_explicit_schedules(train_schedules: dict[str, np.ndarray]) -> None:
    table = _table(train_schedules, every=100, lr=False)
    per_step = pd.DataFrame(
        [{"run": run, "step": s + 1, "lr": lrs[s]} for run, lrs in train_schedules.items() for s in range(STEPS)]
    )
    merged = per_step.merge(table, on=["run", "step"], how="left")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScalingLawsWarning)
        cf = fit_curves(merged)
    assert cf.interpolated == ()
    assert cf.n_points == 200
    assert cf.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=1e-4)


def test_sparse_lr_logs_are_interpolated_with_a_warning(train_schedules: dict[str, np.ndarray]) -> None:
    with pytest.warns(ScalingLawsWarning, match="interpolated linearly"):
        cf = fit_curves(_table(train_schedules, every=100))
    assert set(cf.interpolated) == {"constant", "cosine"}


def test_a_formula_curve_law_and_min_step(train_schedules: dict[str, np.ndarray]) -> None:
    cf = fit_curves(
        _table(train_schedules, lr=False), "L0 + A * s1**(-alpha) - C * s2", schedules=train_schedules, min_step=1000
    )
    assert cf.dropped == 18
    assert cf.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=1e-3)


def test_best_cooldown_minimises_the_predicted_final_loss(noiseless_fit: CurveFit) -> None:
    best = best_cooldown(noiseless_fit, peak=PEAK, steps=STEPS, warmup=WARMUP, shape="sqrt")
    assert 0.05 < best.fraction < 0.95
    assert best.final_loss == pytest.approx(min(best.final_losses))
    brute = [
        noiseless_fit.predict_final(schedules.wsd(PEAK, STEPS, warmup=WARMUP, cooldown=f, shape="sqrt"))
        for f in np.linspace(0.0, 0.9, 46)
    ]
    assert best.final_loss <= min(brute) + 1e-12
    cosine = noiseless_fit.predict_final(schedules.cosine(PEAK, STEPS, warmup=WARMUP))
    assert best.final_loss < cosine
    assert "fraction=" in repr(best) and best.to_dict()["shape"] == "sqrt"


def test_curve_fit_round_trips_through_json(noiseless_fit: CurveFit) -> None:
    again = CurveFit.from_json(noiseless_fit.to_json())
    lrs = schedules.wsd(PEAK, 3000, warmup=100)
    assert np.allclose(again.predict_curve(lrs), noiseless_fit.predict_curve(lrs))
    assert again.decay == noiseless_fit.decay and again.runs == noiseless_fit.runs
    assert "CurveFit(law='lr_annealing'" in repr(noiseless_fit)
    assert "Loss-curve fit on 2 curves" in noiseless_fit.report()


def test_bootstrap_gives_a_band_around_the_curve(train_schedules: dict[str, np.ndarray]) -> None:
    cf = fit_curves(_table(train_schedules, noise=0.003, lr=False), schedules=train_schedules, bootstrap=40, seed=1)
    lrs = schedules.wsd(PEAK, STEPS, warmup=WARMUP)
    lo, hi = cf.predict_interval(lrs, steps=[STEPS])
    mid = cf.predict_final(lrs)
    assert lo[0] < mid < hi[0]


def test_kaplan_steps_law_recovers_its_parameters() -> None:
    truth = {"N_c": 6.5e13, "alpha_N": 0.077, "S_c": 2.1e3, "alpha_S": 0.76}
    law = get_law("kaplan_steps")
    n, s = np.meshgrid(np.geomspace(1e7, 1e9, 5), np.geomspace(1e3, 1e5, 8))
    table = pd.DataFrame({"n_params": n.ravel(), "steps": s.ravel()})
    table["loss"] = law(truth, n_params=table.n_params, steps=table.steps)
    f = sl.fit(table, "kaplan_steps")
    for name, value in truth.items():
        assert f.params[name] == pytest.approx(value, rel=1e-3)
    bound = sl.laws.beyond.early_stopping_steps(f, n_params=1e9, loss=2.5)
    assert float(bound) == pytest.approx(2.1e3 / (2.5 - (6.5e13 / 1e9) ** 0.077) ** (1 / 0.76), rel=1e-3)


# --------------------------------------------------------------------------- real checkpoints


def test_the_law_describes_a_real_cosine_curve(shared_data: Path) -> None:
    d = pd.read_csv(shared_data / "misfitting_li2025" / "misfitting_checkpoints.csv.gz")
    run = d[(d.model == "misfitting_70m") & (d.total_steps == 5000) & (d.peak_lr == 0.002)]
    table = run.assign(run="r").rename(columns={"current_steps": "step"})[["run", "step", "loss"]]
    lrs = schedules.cosine(0.002, 5000, warmup=100)  # open_lm cosine; the warmup is not recorded
    cf = fit_curves(table, schedules={"r": lrs}, min_step=500)
    kept = table[table.step >= 500]
    pred = cf.predict_curve(lrs, steps=kept.step.to_numpy())
    assert np.mean(np.abs(pred - kept.loss.to_numpy()) / kept.loss.to_numpy()) < 0.005


# --------------------------------------------------------------------------- bad input


def test_curve_table_errors_name_the_problem(tmp_path: Path) -> None:
    good = pd.DataFrame({"run": ["a", "a"], "step": [1, 2], "loss": [3.0, 2.9], "lr": [1e-3, 1e-3]})
    with pytest.raises(DataError, match="no run id column 'run'"):
        load_curves(good.drop(columns="run"))
    with pytest.raises(DataError, match="logs step 2 more than once"):
        load_curves(pd.concat([good, good.iloc[[1]]]))
    with pytest.raises(DataError, match="must hold finite learning rates >= 0; row 1"):
        load_curves(good.assign(lr=[1e-3, -1.0]))
    with pytest.raises(DataError, match="whole numbers of steps"):
        load_curves(good.assign(step=[1, 2.5]))
    with pytest.raises(DataError, match="columns= names"):
        load_curves(good, columns={"time": "step"})
    assert load_curves(good.rename(columns={"run": "sweep"}), columns={"run": "sweep"})["run"].tolist() == ["a", "a"]
    bad = tmp_path / "curves.txt"
    bad.write_text("x")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_curves(bad)
    with pytest.raises(DataError, match="no such file"):
        load_curves(tmp_path / "missing.csv")


def test_fit_curves_errors_name_the_problem(train_schedules: dict[str, np.ndarray]) -> None:
    table = _table(train_schedules, lr=False)
    with pytest.raises(DataError, match="run 'constant' has no learning rates"):
        fit_curves(table)
    with pytest.raises(DataError, match="schedules given for runs not in the table: \\['other'\\]"):
        fit_curves(table, schedules={**train_schedules, "other": train_schedules["cosine"]})
    with pytest.raises(DataError, match="has 100 steps but the run logs step 10000"):
        fit_curves(table, schedules={"constant": np.ones(100), "cosine": train_schedules["cosine"]})
    with pytest.raises(LawError, match="a curve does not provide"):
        fit_curves(table, "chinchilla", schedules=train_schedules)
    with pytest.raises(DataError, match="min_step must be an integer >= 1"):
        fit_curves(table, schedules=train_schedules, min_step=0)
    with pytest.raises(DataError, match="no rows at or after step 20000"):
        fit_curves(table, schedules=train_schedules, min_step=20_000)


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.curves"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_fits_predicts_and_finds_the_cooldown(tmp_path: Path, run_cli, train_schedules: dict[str, np.ndarray]) -> None:
    per_step = pd.DataFrame(
        [{"run": run, "step": s + 1, "lr": lrs[s]} for run, lrs in train_schedules.items() for s in range(0, STEPS)]
    )
    table = per_step.merge(_table(train_schedules, lr=False), on=["run", "step"], how="left")
    data = tmp_path / "curves.csv"
    table.to_csv(data, index=False)
    saved = tmp_path / "curve_fit.json"
    code, out, err = run_cli("curves", "fit", str(data), "-o", str(saved))
    assert code == 0, err
    assert "Loss-curve fit on 2 curves" in out and saved.is_file()

    code, out, err = run_cli("curves", "predict", str(saved), "--schedule", "wsd", "--peak", str(PEAK),
                             "--steps", str(STEPS), "--warmup", str(WARMUP), "--json")
    assert code == 0, err
    rows = json.loads(out)
    truth = _law_curve(schedules.wsd(PEAK, STEPS, warmup=WARMUP))
    assert rows[-1]["step"] == STEPS
    assert rows[-1]["loss"] == pytest.approx(truth[-1], rel=1e-4)

    code, out, err = run_cli("curves", "cooldown", str(saved), "--peak", str(PEAK), "--steps", str(STEPS),
                             "--warmup", str(WARMUP))
    assert code == 0, err
    assert "best WSD cooldown" in out


def test_cli_reports_bad_input_in_one_line(tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("curves", "fit", str(tmp_path / "nothing.csv"))
    assert code == 2
    assert err.startswith("error: ") and "no such file" in err
    code, _, err = run_cli("curves", "predict", str(tmp_path / "nothing.json"), "--peak", "1", "--steps", "10")
    assert code == 2 and "does not exist" in err


def test_best_cooldown_warns_once_per_kind_not_once_per_fraction(noiseless_fit: CurveFit) -> None:
    """A budget beyond the fitted curves: each fraction tried is out of range; one warning says so."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        best_cooldown(noiseless_fit, peak=PEAK, steps=20 * STEPS, warmup=WARMUP, shape="sqrt")
    texts = [str(w.message) for w in caught if issubclass(w.category, ScalingLawsWarning)]
    assert texts, "a budget 20x the fitted steps must warn"
    assert len(texts) == len({t.split(":")[0] for t in texts}) <= 3
    assert any("similar over the cooldown fractions tried" in t for t in texts)


def test_curve_fit_reports_count_points_not_runs(noiseless_fit: CurveFit) -> None:
    """The rows of a curve fit are points of 2 runs: its text, HTML and JSON round trip say "200 points"."""
    text = noiseless_fit.report()
    assert "to 200 points" in text and "200 runs" not in text
    assert "200 points" in noiseless_fit.fit._repr_html_()
    assert "to 200 points" in CurveFit.from_json(noiseless_fit.to_json()).report()
