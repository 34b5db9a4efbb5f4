"""Over-training and downstream laws (Gadre et al.), two-stage prediction, pass@k, coverage, loss-to-loss."""

from __future__ import annotations

import dataclasses
import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglaws as sl
import scalinglaws.cli.app as cli
from scalinglaws.dynamics.downstream import coverage_table, pass_at_k, predict_downstream, samples_for_coverage
from scalinglaws.errors import DataError, FitError, LawError
from scalinglaws.laws import get_law

# The paper's grid (scaling/laws.py, curve_fit_powlaw_ours): a0, b0 in {1e2, 3e2, 1e3, 3e3},
# e0 in {-0.1, -0.3} (alpha = -e), E0 in {0, 1, 2, 10}; 128 starts.
GADRE_STARTS = {"a": [1e2, 3e2, 1e3, 3e3], "b": [1e2, 3e2, 1e3, 3e3], "alpha": [0.1, 0.3], "E": [0.0, 1.0, 2.0, 10.0]}
SMALL = ["d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8"]


def _gadre(shared_data: Path, train: str = "rpj") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    d = pd.read_csv(shared_data / "gadre_overtraining" / "gadre_models.csv")
    d = d[d.train_dataset == train]
    loss_rows = d[(d.model_name.isin(SMALL) & (d.tok_mult_M == 20)) | ((d.model_name == SMALL[0]) & (d.tok_mult_M == 320))]
    error_rows = pd.concat([loss_rows, d[(d.model_name == "open_lm_1b") & (d.tok_mult_M == 20)]])
    targets = d[d.name.isin([f"{train}-open_lm_1b-32.0", f"{train}-open_lm_7b-1.0"])].sort_values("N_params")
    return loss_rows, error_rows, targets


def _fit_gadre(loss_rows: pd.DataFrame, error_rows: pd.DataFrame, bootstrap: int = 0) -> tuple[sl.Fit, sl.Fit]:
    runs = sl.load_runs(loss_rows, columns={"n_params": "N_params", "n_tokens": "D_tokens", "loss": "loss_c4_val"})
    ot = sl.fit(runs, "overtraining", variables={"tokens_per_param": "tok_mult_M"}, loss="squared", space="linear",
                starts=GADRE_STARTS, prune=False, bootstrap=bootstrap)
    pairs = sl.load_runs(error_rows[["loss_c4_val", "err_avg_subset_17"]], columns={"loss": "loss_c4_val"})
    ds = sl.fit(pairs, "downstream_exp", target="err_avg_subset_17", loss="squared", space="linear",
                starts={"eps": [1.0], "k": [1.0], "gamma": [1.0]}, bootstrap=bootstrap)
    return ot, ds


# --------------------------------------------------------------------------- Gadre et al. (golden)


def test_gadre_figure_1_relative_errors_are_reproduced(shared_data: Path) -> None:
    loss_rows, error_rows, targets = _gadre(shared_data)
    ot, ds = _fit_gadre(loss_rows, error_rows)
    pred = predict_downstream(ot, ds, n_params=targets.N_params.to_numpy(), tokens_per_param=targets.tok_mult_M.to_numpy())
    loss_err = 100 * np.abs(pred.loss - targets.loss_c4_val.to_numpy()) / targets.loss_c4_val.to_numpy()
    task_err = 100 * np.abs(pred.error - targets.err_avg_subset_17.to_numpy()) / targets.err_avg_subset_17.to_numpy()
    # published (scaling_explorer.ipynb): 1.4B at M=640, 6.9B at M=20
    assert loss_err == pytest.approx([0.7103, 0.7320], abs=0.05)
    assert task_err == pytest.approx([3.6365, 0.0464], abs=0.05)


def test_gadre_fitted_parameters_match_the_reproduced_table(shared_data: Path) -> None:
    table = pd.read_csv(shared_data / "gadre_overtraining" / "reproduced_fit_params.csv")
    for train in ("c4_original", "rpj", "rw_original"):
        loss_rows, error_rows, _ = _gadre(shared_data, train)
        ot, ds = _fit_gadre(loss_rows, error_rows)
        ref = table[(table.train == train) & (table.downstream == "err_avg_subset_17")].iloc[0]
        assert ot.params["E"] == pytest.approx(ref.E, rel=1e-3)
        assert ot.params["a"] == pytest.approx(ref.a, rel=1e-3)
        assert ot.params["b"] == pytest.approx(ref.b, rel=1e-3)
        assert -ot.params["alpha"] == pytest.approx(ref.exponent_e, rel=1e-3)
        assert ds.params["k"] == pytest.approx(ref.k, rel=1e-3)
        assert ds.params["gamma"] == pytest.approx(ref.gamma, rel=1e-3)
        assert ds.params["eps"] == pytest.approx(ref.epsilon, rel=1e-3)


@pytest.mark.filterwarnings("ignore:overtraining.*bootstrap refits did not converge")  # 5 runs, 4 parameters
def test_two_stage_interval_propagates_both_bootstraps(shared_data: Path) -> None:
    loss_rows, error_rows, _ = _gadre(shared_data)
    ot, ds = _fit_gadre(loss_rows, error_rows, bootstrap=60)
    pred = predict_downstream(ot, ds, n_params=6.9e9, tokens_per_param=20)
    assert isinstance(pred.loss, float) and pred.n_draws > 0
    assert pred.loss_interval[0] <= pred.loss <= pred.loss_interval[1]
    assert pred.error_interval[0] <= pred.error <= pred.error_interval[1]
    # the same point given as tokens: n_tokens = tokens_per_param * n_params
    again = predict_downstream(ot, ds, n_params=6.9e9, n_tokens=20 * 6.9e9)
    assert again.loss == pytest.approx(pred.loss) and again.error_interval == pytest.approx(pred.error_interval)
    # with the loss fit's draws only, the error band is the (increasing) error law applied to the loss band
    no_ds = predict_downstream(ot, dataclasses.replace(ds, draws=None), n_params=6.9e9, tokens_per_param=20)
    assert no_ds.error_interval == pytest.approx(tuple(ds.predict(loss=np.array(no_ds.loss_interval))), rel=1e-3)
    assert no_ds.loss_interval == pytest.approx(pred.loss_interval)
    d = pred.to_dict()
    assert json.loads(json.dumps(d))["inputs"]["n_params"] == 6.9e9
    assert "DownstreamPrediction(" in repr(pred)


def test_predict_downstream_errors_name_the_missing_variable() -> None:
    n = np.geomspace(1e7, 1e9, 6)
    m = np.array([20, 20, 40, 20, 80, 20.0])
    law = get_law("overtraining")
    truth = {"E": 1.8, "a": 150.0, "b": 350.0, "alpha": 0.27}
    table = pd.DataFrame({"n_params": n, "tokens_per_param": m, "loss": law(truth, n_params=n, tokens_per_param=m)})
    ot = sl.fit(table, "overtraining")
    pairs = pd.DataFrame({"loss": [3.0, 3.5, 4.0, 4.5], "err": [0.6, 0.7, 0.75, 0.8]})
    ds = sl.fit(pairs, "downstream_exp", target="err")
    with pytest.raises(LawError, match="needs 'tokens_per_param'"):
        predict_downstream(ot, ds, n_params=1e9)
    with pytest.raises(LawError, match="has no variable 'steps'"):
        predict_downstream(ot, ds, n_params=1e9, tokens_per_param=20, steps=3)
    with pytest.raises(FitError, match="level must lie"):
        predict_downstream(ot, ds, level=2.0, n_params=1e9, tokens_per_param=20)
    assert predict_downstream(ot, ds, n_params=1e9, tokens_per_param=20).error_interval is None


# --------------------------------------------------------------------------- pass@k


def _brute_force(n: int, c: int, k: int) -> Fraction:
    """Share of all k-subsets of n samples (c correct) that hold a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(any(samples[i] for i in s) for s in subsets)
    return Fraction(hits, len(subsets))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 10).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_equals_brute_force_enumeration(case: tuple[int, int, int]) -> None:
    n, c, k = case
    assert pass_at_k(n, c, k) == float(_brute_force(n, c, k))


def test_pass_at_k_is_stable_for_many_samples() -> None:
    n, c, k = 10_000, 37, 100
    exact = float(1 - Fraction(__import__("math").comb(n - c, k), __import__("math").comb(n, k)))
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)
    per_problem = pass_at_k(np.array([5, 5, 300]), np.array([0, 5, 1]), 2)
    assert per_problem.shape == (3,) and per_problem[0] == 0.0 and per_problem[1] == 1.0
    assert per_problem[2] == pytest.approx(2 / 300)


@pytest.mark.parametrize(
    ("n", "c", "k", "message"),
    [(5, 6, 1, "cannot exceed n"), (5, 2, 6, "k cannot exceed n"), (5, 2, 0, "at least 1"), (5, -1, 1, ">= 0"), (5.5, 2, 1, "whole numbers")],
)
def test_pass_at_k_bad_counts(n: float, c: int, k: int, message: str) -> None:
    with pytest.raises(DataError, match=message):
        pass_at_k(n, c, k)


# --------------------------------------------------------------------------- coverage and samples needed


@pytest.fixture(scope="module")
def coverage_counts() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 2.0, size=400)  # a heavy left tail of per-problem solve rates
    n = np.full(400, 1000)
    return n, rng.binomial(n, p)


def test_coverage_law_fits_and_inverts(coverage_counts: tuple[np.ndarray, np.ndarray]) -> None:
    n, c = coverage_counts
    table = coverage_table(n, c)
    assert table.n_samples.iloc[0] == 1 and table.n_samples.iloc[-1] == 1000 and len(table) <= 40
    assert np.all(np.diff(table.coverage) >= 0)
    cov = sl.fit(table, "coverage", target="coverage", bootstrap=50)
    assert cov.params["a"] < 0 and cov.params["b"] < 0
    fitted = cov.predict(n_samples=table.n_samples.to_numpy())
    assert np.max(np.abs(np.log(fitted) - np.log(table.coverage))) < 0.1
    target = float(table.coverage.iloc[len(table) // 2])
    need = samples_for_coverage(cov, target)
    assert float(cov.predict(n_samples=need.n_samples)) == pytest.approx(target, rel=1e-6)
    assert need.interval[0] <= need.n_samples <= need.interval[1]
    assert "SamplesNeeded(" in repr(need) and need.to_dict()["target"] == target


def test_samples_for_coverage_edge_cases() -> None:
    table = pd.DataFrame({"n_samples": [1, 2, 4, 8, 16, 32], "coverage": np.exp(-0.9 * np.array([1, 2, 4, 8, 16, 32.0]) ** -0.4)})
    cov = sl.fit(table, "coverage", target="coverage")
    assert samples_for_coverage(cov, 0.2).n_samples == 1.0  # already reached with one sample
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        samples_for_coverage(cov, 1.0)
    assert samples_for_coverage(cov, 0.9).interval is None


# --------------------------------------------------------------------------- loss to loss


def test_loss_to_loss_recovers_a_shifted_power_law() -> None:
    truth = {"K": 1.3, "E_x": 1.6, "kappa": 0.8, "E_y": 1.9}
    x = np.linspace(2.4, 4.5, 12)
    table = pd.DataFrame({"loss_x": x, "loss": get_law("loss_to_loss")(truth, loss_x=x)})
    f = sl.fit(table, "loss_to_loss", fixed={"E_x": 1.6, "E_y": 1.9}, fixed_source="separate compute fits")
    assert f.params["K"] == pytest.approx(1.3, rel=1e-4) and f.params["kappa"] == pytest.approx(0.8, rel=1e-4)


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.curves"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_downstream_predict_passk_and_samples(tmp_path: Path, run_cli, shared_data: Path,
                                                  coverage_counts: tuple[np.ndarray, np.ndarray]) -> None:
    loss_rows, error_rows, _ = _gadre(shared_data)
    ot, ds = _fit_gadre(loss_rows, error_rows)
    (tmp_path / "ot.json").write_text(ot.to_json())
    (tmp_path / "ds.json").write_text(ds.to_json())
    code, out, err = run_cli("downstream", "predict", "--loss-fit", str(tmp_path / "ot.json"), "--downstream-fit",
                             str(tmp_path / "ds.json"), "--at", "n_params=6.88941056e9", "--at", "tokens_per_param=20", "--json")
    assert code == 0, err
    assert json.loads(out)["loss"] == pytest.approx([2.4427451703568828], rel=1e-6)

    n, c = coverage_counts
    pd.DataFrame({"n": n, "c": c}).to_csv(tmp_path / "counts.csv", index=False)
    code, out, err = run_cli("downstream", "passk", str(tmp_path / "counts.csv"), "--k", "1,10,100",
                             "-o", str(tmp_path / "cov.csv"))
    assert code == 0, err
    cov_table = pd.read_csv(tmp_path / "cov.csv")
    assert cov_table.coverage.tolist() == pytest.approx(coverage_table(n, c, [1, 10, 100]).coverage.tolist())

    code, out, err = run_cli("fit", str(tmp_path / "cov.csv"), "--law", "coverage", "--target", "coverage",
                             "-o", str(tmp_path / "covfit.json"))
    assert code == 0, err
    code, out, err = run_cli("downstream", "samples", str(tmp_path / "covfit.json"), "--target", "0.5")
    assert code == 0, err
    assert "coverage 0.5 needs" in out

    code, _, err = run_cli("downstream", "samples", str(tmp_path / "covfit.json"), "--target", "1.5")
    assert code == 2 and err.startswith("error: ")
