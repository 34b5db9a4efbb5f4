"""IsoFLOP analysis (Approach 2), training-curve envelope (Approach 1) and power-law fits."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
import scalinglaws.cli.app as cli
from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.plan.isoflop import envelope, estimate_noise, fit_power_law, isoflop

E, A, B, ALPHA, BETA = 1.8172, 482.01, 2085.43, 0.3478, 0.3658  # Epoch's refit, LAWS.md §3.6
A_TRUE = BETA / (ALPHA + BETA)


def chinchilla_loss(n, d):
    return E + A / n**ALPHA + B / d**BETA


def synthetic_isoflop(budgets=(1e18, 1e19, 1e20, 1e21), sizes=9, spread=16.0, noise=0.003, seed=0):
    """Runs on an IsoFLOP grid centred on each budget's true optimum, with log-loss noise."""
    rng = np.random.default_rng(seed)
    G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    rows = []
    for c in budgets:
        n_opt = G * (c / 6) ** A_TRUE
        for n in np.geomspace(n_opt / spread, n_opt * spread, sizes):
            d = c / (6 * n)
            rows.append({"n_params": n, "n_tokens": d, "flops": c,
                         "loss": chinchilla_loss(n, d) * np.exp(noise * rng.standard_normal())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Porian et al. (golden)


PORIAN = Path(__file__).resolve().parent / "data" / "porian"  # copied from the shared data; see SOURCE.md there


@pytest.fixture(scope="module")
def porian():
    folder = PORIAN
    return (
        pd.read_csv(folder / "porian_isoflop_points.csv"),
        pd.read_csv(folder / "porian_isoflop_optima.csv"),
        pd.read_csv(folder / "porian_fit_results.csv"),
    )


def _experiments(table, results):
    for row in results.itertuples():
        yield row, table[(table.source_file == row.source_file) & (table.label == row.label)]


def test_porian_weighted_fits_of_published_optima_reproduce_all_15_exponents(porian):
    _, optima, results = porian
    assert len(results) == 15
    for row, sub in _experiments(optima, results):
        sub = sub.dropna(subset=["n_star"])
        # SOURCE.md recipe: WLS of log n_star on log flops, weights 1 / n_star_std^2
        n_fit = fit_power_law(sub["flops"], sub["n_star"], sd=sub["n_star_std"])
        assert round(n_fit.exponent, 3) == round(row.a_n_exponent, 3), row.label
        assert n_fit.exponent == pytest.approx(row.a_n_exponent, abs=1e-9)
        assert n_fit.coefficient == pytest.approx(row.n_coef, rel=1e-9)
        t_fit = fit_power_law(sub["flops"], sub["t_star"], sd=sub["t_star_std"])
        assert t_fit.exponent == pytest.approx(row.t_exponent, abs=1e-9)


def _published_recipe(sub):
    """Hoffmann et al. Approach 2 in plain numpy: per budget np.polyfit of loss on log N
    (degree 2), vertex -b/2a when the parabola opens upwards and the vertex lies inside the
    sampled sizes; then np.polyfit of log N_opt (and log D_opt) on log C (degree 1)."""
    logc, logn, logd = [], [], []
    for c, g in sub.groupby("flops"):
        g = g.sort_values("N")
        x, y = np.log(g["N"].to_numpy()), g["loss"].to_numpy()
        a, b, _ = np.polyfit(x, y, 2)
        v = -b / (2 * a)
        if a > 0 and x[0] < v < x[-1]:
            logc.append(np.log(c))
            logn.append(v)
            logd.append(np.interp(v, x, np.log(g["D_tokens"].to_numpy())))
    (a_n, k_n), (a_d, _) = np.polyfit(logc, logn, 1), np.polyfit(logc, logd, 1)
    return a_n, np.exp(k_n), a_d, len(logc)


@pytest.mark.golden
def test_default_is_the_published_recipe_on_all_15_porian_experiments(porian):
    points, _, results = porian
    for row, sub in _experiments(points, results):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLawsWarning)
            iso = isoflop(sl.load_runs(sub), bootstrap=0)
        a_n, k_n, a_d, used = _published_recipe(sub)
        assert iso.method == "parabola" and not iso.n_opt.weighted and iso.grouping == ""
        assert int(iso.optima["used"].sum()) == used, row.label
        assert iso.n_opt.exponent == pytest.approx(a_n, abs=1e-6), row.label
        assert iso.n_opt.coefficient == pytest.approx(k_n, rel=1e-6), row.label
        assert iso.d_opt.exponent == pytest.approx(a_d, abs=1e-6), row.label


@pytest.fixture(scope="module")
def porian_errors(porian):
    """Max |exponent error| over the 15 experiments, per method, from the raw IsoFLOP points."""
    points, _, results = porian
    out = {}
    for name, kwargs in {
        "akima": {"method": "akima"},
        "parabola": {"method": "parabola"},
        "cubic": {"method": "cubic"},
        "parabola_window5": {"method": "parabola", "window": 5},
    }.items():
        errors = []
        for row, sub in _experiments(points, results):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalingLawsWarning)
                iso = isoflop(sl.load_runs(sub), **kwargs)
            errors.append(iso.n_opt.exponent - row.a_n_exponent)
        out[name] = np.abs(errors)
    return out


def test_porian_akima_from_raw_points_within_002_of_all_15(porian_errors):
    assert porian_errors["akima"].max() < 0.02
    assert np.median(porian_errors["akima"]) < 0.006


@pytest.mark.parametrize("method, bound", [("cubic", 0.05), ("parabola", 0.08), ("parabola_window5", 0.03)])
def test_porian_parabola_and_cubic_land_further(porian_errors, method, bound):
    # parabolas over wide, asymmetric valleys are biased; the interpolant is not (the published
    # exponents are Porian et al.'s Akima + weighted recipe, not Hoffmann's parabola)
    assert porian_errors[method].max() < bound
    assert porian_errors[method].max() > porian_errors["akima"].max()


def test_porian_akima_flags_the_same_budgets_as_the_paper(porian):
    points, optima, results = porian
    for row, sub in list(_experiments(points, results))[:5]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLawsWarning)
            iso = isoflop(sl.load_runs(sub), method="akima", bootstrap=50)
        published = optima[(optima.source_file == row.source_file) & (optima.label == row.label)]
        assert int(iso.optima["used"].sum()) == int(published["n_star"].notna().sum()), row.label


# --------------------------------------------------------------------------- synthetic recovery


@pytest.mark.parametrize("method", ["parabola", "cubic", "akima"])
def test_recovers_chinchilla_exponent(method):
    iso = isoflop(synthetic_isoflop(), method=method, bootstrap=100, seed=1)
    assert iso.n_opt.exponent == pytest.approx(A_TRUE, abs=0.02)
    assert iso.d_opt.exponent == pytest.approx(1 - A_TRUE, abs=0.02)
    lo, hi = iso.n_opt.exponent_interval
    assert lo < iso.n_opt.exponent < hi
    assert iso.optima["used"].all() and not iso.optima["at_edge"].any()
    assert (iso.optima["n_opt_lo"] < iso.optima["n_opt"]).all() and (iso.optima["n_opt"] < iso.optima["n_opt_hi"]).all()
    # D read off the runs: C = 6 N D here
    assert np.allclose(6 * iso.optima["n_opt"] * iso.optima["d_opt"], iso.optima["flops"], rtol=1e-9)


def test_noiseless_parabola_vertex_is_exact_for_a_parabola():
    rows = [{"n_params": np.exp(x), "flops": c, "loss": 2.0 + 0.05 * (x - (0.5 * np.log(c) - 3)) ** 2}
            for c in (1e18, 1e20, 1e22) for x in np.linspace(0.5 * np.log(1e18) - 6, 0.5 * np.log(1e22), 11)]
    iso = isoflop(pd.DataFrame(rows), bootstrap=0)
    assert iso.n_opt.exponent == pytest.approx(0.5, abs=1e-9)
    assert iso.n_opt.coefficient == pytest.approx(np.exp(-3), rel=1e-7)
    assert not iso.n_opt.weighted


def test_seeded_and_reproducible():
    df = synthetic_isoflop()
    a = isoflop(df, bootstrap=50, seed=3)
    b = isoflop(df, bootstrap=50, seed=3)
    c = isoflop(df, bootstrap=50, seed=4)
    pd.testing.assert_frame_equal(a.optima, b.optima)
    assert not np.allclose(a.optima["n_opt_lo"], c.optima["n_opt_lo"])
    assert np.allclose(a.optima["n_opt"], c.optima["n_opt"])  # the point estimate does not depend on the seed


def test_noise_bootstrap_and_estimate():
    df = synthetic_isoflop(noise=0.003)
    sd = estimate_noise(df)
    assert 0.001 < sd < 0.02
    iso = isoflop(df, method="akima", bootstrap=100)
    assert iso.options["noise"] == pytest.approx(sd)
    iso2 = isoflop(df, method="parabola", noise=0.003, bootstrap=100)
    assert iso2.options["noise"] == 0.003
    assert isoflop(df, method="parabola", bootstrap=20).options["noise"] is None  # resampling sizes


def test_edge_budget_is_flagged_warned_and_left_out():
    df = synthetic_isoflop(budgets=(1e18, 1e19, 1e20, 1e21))
    # at 1e21 keep only the four smallest sizes: the minimum falls on the largest sampled size
    big = df[df.flops == 1e21].sort_values("n_params")
    df = pd.concat([df[df.flops < 1e21], big.head(4)])
    with pytest.warns(ScalingLawsWarning, match="edge of the sampled sizes"):
        iso = isoflop(df, bootstrap=50)
    row = iso.optima.set_index("flops").loc[1e21]
    assert row["at_edge"] and not row["used"]
    assert iso.n_opt.n_points == 3
    assert iso.n_opt.exponent == pytest.approx(A_TRUE, abs=0.03)
    assert "edge" in iso.report()


def test_binning_groups_jittered_budgets():
    df = synthetic_isoflop(budgets=(1e18, 1e19, 1e20))
    rng = np.random.default_rng(0)
    df["flops"] = df["flops"] * np.exp(0.01 * rng.standard_normal(len(df)))
    with pytest.raises(DataError, match="model size"):
        isoflop(df, bins=None)  # exact budgets: every run has its own
    iso = isoflop(df, bins=4, bootstrap=50)
    assert len(iso.optima) == 3 and "bins of 1/4 decade" in iso.grouping
    assert iso.n_opt.exponent == pytest.approx(A_TRUE, abs=0.03)
    # by default jittered budgets are not a design: nearby budgets are grouped, and the result says so
    with pytest.warns(ScalingLawsWarning, match="not an IsoFLOP design"):
        auto = isoflop(df, bootstrap=50)
    assert len(auto.optima) == 3 and auto.options["grouping"] == "clusters"
    assert "not an IsoFLOP design" in auto.grouping and "grouping:" in auto.report()
    assert np.allclose(auto.optima["n_opt"], iso.optima["n_opt"])


def test_duplicates_min_or_mean():
    df = synthetic_isoflop(budgets=(1e18, 1e19, 1e20), noise=0.0)
    worse = df.assign(loss=df["loss"] * 1.2)
    both = pd.concat([df, worse])
    a = isoflop(both, bootstrap=0)
    b = isoflop(df, bootstrap=0)
    assert np.allclose(a.optima["n_opt"], b.optima["n_opt"])
    c = isoflop(both, duplicates="mean", bootstrap=0)
    assert (c.optima["loss_opt"] > b.optima["loss_opt"]).all()
    assert (c.optima["n_sizes"] == b.optima["n_sizes"]).all()


# --------------------------------------------------------------------------- bad input


def test_budget_with_fewer_than_three_sizes_is_a_data_error():
    df = synthetic_isoflop(budgets=(1e18, 1e19, 1e20))
    df = pd.concat([df[df.flops < 1e20], df[df.flops == 1e20].head(2)])
    with pytest.raises(DataError, match=r"budget 1e\+20 FLOPs has 2 model sizes.*at least 3"):
        isoflop(df)


def test_cubic_needs_four_sizes():
    df = synthetic_isoflop(budgets=(1e18, 1e19), sizes=3)
    isoflop(df, bootstrap=0)  # a parabola is fine
    with pytest.raises(DataError, match="at least 4"):
        isoflop(df, method="cubic")


def test_single_budget_and_all_edges():
    df = synthetic_isoflop(budgets=(1e19,))
    with pytest.raises(DataError, match="2 or more budgets"):
        isoflop(df)
    df = synthetic_isoflop(budgets=(1e18, 1e19))
    one_sided = df.groupby("flops", group_keys=False).apply(lambda g: g.sort_values("n_params").head(4))
    with pytest.warns(ScalingLawsWarning), pytest.raises(FitError, match="only 0 of 2 budgets"):
        isoflop(one_sided)


def test_bad_options():
    df = synthetic_isoflop()
    with pytest.raises(FitError, match="method"):
        isoflop(df, method="spline")
    with pytest.raises(FitError, match="window"):
        isoflop(df, window=2)
    with pytest.raises(FitError, match="noise"):
        isoflop(df, noise=-1.0)
    with pytest.raises(DataError, match="bins"):
        isoflop(df, bins=0)
    with pytest.raises(DataError, match="loss"):
        isoflop(df.drop(columns="loss"))


# --------------------------------------------------------------------------- Approach 1


def training_curves(n_runs=14, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(np.geomspace(3e7, 3e10, n_runs)):
        for d in np.geomspace(1e8, 2e12, 60):
            rows.append({"run_id": f"r{i}", "n_params": n, "n_tokens": d,
                         "loss": chinchilla_loss(n, d) * np.exp(0.001 * rng.standard_normal())})
    return pd.DataFrame(rows)


def test_envelope_recovers_exponent():
    env = envelope(training_curves(), n_points=60, bootstrap=50)
    assert env.method == "envelope"
    assert env.n_opt.exponent == pytest.approx(A_TRUE, abs=0.04)
    lo, hi = env.n_opt.exponent_interval
    assert lo <= env.n_opt.exponent <= hi
    assert env.optima["at_edge"].any()  # the smallest model wins at the lowest FLOPs
    json.dumps(env.to_dict())


def test_envelope_bad_input():
    df = training_curves(n_runs=3)
    with pytest.raises(DataError, match="run_id"):
        envelope(df.drop(columns="run_id"))
    bad = df.copy()
    bad.loc[bad.index[0], "n_params"] = 1.0e9
    with pytest.raises(DataError, match="several n_params"):
        envelope(bad)


# --------------------------------------------------------------------------- power laws and results


def test_fit_power_law_weights_and_draws():
    c = np.geomspace(1e18, 1e21, 4)
    y = 0.1 * c**0.5
    y_off = y * np.array([1, 1, 1, 3.0])
    heavy = fit_power_law(c, y_off, sd=[0.01, 0.01, 0.01, 10.0])
    flat = fit_power_law(c, y_off)
    assert heavy.exponent == pytest.approx(0.5, abs=1e-4)
    assert flat.exponent > 0.55
    rng = np.random.default_rng(0)
    draws = y * np.exp(0.05 * rng.standard_normal((300, 4)))
    f = fit_power_law(c, y, y_draws=draws, y_name="n_opt")
    lo, hi = f.exponent_interval
    assert lo < 0.5 < hi
    assert f.predict(1e20) == pytest.approx(0.1 * 1e10)
    band = f.predict_interval(np.array([1e22, 1e24]))
    assert (band[0] < f.predict(np.array([1e22, 1e24]))).all()
    assert "n_opt = " in repr(f)
    with pytest.raises(FitError, match="at least 2 points"):
        fit_power_law([1e18], [1.0])


def test_result_repr_dict_report():
    iso = isoflop(synthetic_isoflop(), bootstrap=30)
    assert repr(iso).startswith("IsoFlop(method='parabola', 4 budgets, 4 used")
    d = json.loads(json.dumps(iso.to_dict()))
    assert d["n_opt"]["exponent"] == pytest.approx(iso.n_opt.exponent)
    assert len(d["optima"]) == 4
    assert "n_opt(C)" in iso.report()


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def cli_main(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.plan"))
    return cli.main


def test_cli_isoflop(cli_main, tmp_path, capsys):
    path = tmp_path / "runs.csv"
    synthetic_isoflop().to_csv(path, index=False)
    assert cli_main(["isoflop", str(path), "--method", "akima", "--bootstrap", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "akima" and out["n_opt"]["exponent"] == pytest.approx(A_TRUE, abs=0.02)
    assert cli_main(["isoflop", str(path), "--bootstrap", "20", "--noise", "resample"]) == 0
    assert "n_opt(C)" in capsys.readouterr().out


def test_cli_isoflop_envelope_and_errors(cli_main, tmp_path, capsys):
    curves = tmp_path / "curves.csv"
    training_curves().to_csv(curves, index=False)
    assert cli_main(["isoflop", str(curves), "--envelope", "--points", "40", "--bootstrap", "10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "envelope"
    path = tmp_path / "runs.csv"
    df = synthetic_isoflop(budgets=(1e18, 1e19))
    pd.concat([df[df.flops == 1e18], df[df.flops == 1e19].head(2)]).to_csv(path, index=False)
    assert cli_main(["isoflop", str(path)]) == 2
    assert "error: budget 1e+19 FLOPs has 2 model sizes" in capsys.readouterr().err


# --------------------------------------------------------------------------- honest intervals, bad losses, results


def test_two_budgets_of_three_sizes_have_no_interval_and_say_so():
    df = synthetic_isoflop(budgets=(1e18, 1e19), sizes=3, spread=4.0)
    with pytest.warns(ScalingLawsWarning) as caught:
        iso = isoflop(df, bootstrap=100)
    messages = " ".join(str(w.message) for w in caught)
    assert "only 3 model sizes" in messages and "only 2 budgets" in messages
    assert iso.optima["few_sizes"].all() and iso.optima["n_opt_lo"].isna().all()
    assert iso.n_opt.exponent_interval is None and np.isnan(iso.n_opt.r2) and iso.n_opt.note
    assert "no interval" in iso.report() and "r2 1.0000" not in iso.report()
    assert json.loads(json.dumps(iso.to_dict()))["n_opt"]["r2"] is None
    # a parametric bootstrap does give the budgets an interval
    noisy = isoflop(df, bootstrap=100, noise=0.003)
    assert not noisy.optima["few_sizes"].any() and (noisy.optima["n_opt_hi"] > noisy.optima["n_opt_lo"]).all()


def test_runs_with_zero_or_negative_loss_are_dropped_with_a_warning():
    df = synthetic_isoflop()
    clean = isoflop(df, bootstrap=0)
    bad = df.copy()
    bad.loc[[0, 10], "loss"] = [0.0, -1.0]  # (a missing loss is refused by load_runs itself)
    with pytest.warns(ScalingLawsWarning, match="2 runs with a missing, zero or negative loss"):
        iso = isoflop(bad, bootstrap=0)
    assert (iso.points["loss"] > 0).all() and len(iso.points) == len(df) - 2
    assert (iso.optima["loss_opt"] > 0).all()
    assert iso.n_opt.exponent == pytest.approx(clean.n_opt.exponent, abs=0.02)


def test_result_carries_points_and_fitted_curves():
    df = synthetic_isoflop()
    iso = isoflop(df, bootstrap=0, window=5)
    assert list(iso.points.columns) == ["flops", "n_params", "n_tokens", "loss", "in_fit", "used"]
    assert len(iso.points) == len(df) and iso.points.groupby("flops")["in_fit"].sum().eq(5).all()
    # the curves are the fitted parabolas: their minimum is the budget's optimum
    for c, g in iso.curves.groupby("flops"):
        row = iso.optima.set_index("flops").loc[c]
        a, b, _ = np.polyfit(np.log(g["n_params"]), g["loss_fit"], 2)
        assert np.exp(-b / (2 * a)) == pytest.approx(row["n_opt"], rel=1e-6)
        assert g["loss_fit"].min() >= row["loss_opt"] - 1e-12
    assert "<pre>" in iso._repr_html_()


def test_cli_isoflop_on_the_bundled_chinchilla_runs(cli_main, capsys):
    assert cli_main(["isoflop", "chinchilla_epoch", "--bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "grouping: the runs are not an IsoFLOP design" in out and "n_opt(C)" in out
    exponent = float(out.split("n_opt(C) = ")[1].split("C^")[1].split()[0])
    assert 0.4 < exponent < 0.6  # Hoffmann et al. report 0.49 for Approach 2
