"""Comparing laws (held-out test, AIC/BIC) and two ladders (effective-compute multiplier)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from scalinglaws.cli import app as cli
from scalinglaws.judge.compare import Comparison, LadderComparison, compare, compare_ladders, log_likelihood
from scalinglaws.errors import DataError, FitError, LawError

pytestmark = pytest.mark.filterwarnings("ignore::scalinglaws.errors.ScalingLawsWarning")


def _curve(noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e6, 1e9, 15)
    return pd.DataFrame({"x": x, "loss": (1.5 + 300 * x**-0.3) * np.exp(rng.normal(0, noise, x.size))})


def test_compare_ranks_by_held_out_error_and_adds_aic_bic():
    c = compare(_curve(), ["m1", "power", "m3"], bootstrap=10)
    assert isinstance(c, Comparison)
    assert c.best == "power" and c.table.law.iloc[0] == "power"
    assert list(c.table.rmse_log) == sorted(c.table.rmse_log)
    t = c.table.set_index("law")
    for law in t.index:
        k = t.loc[law, "n_params"] + 1
        assert t.loc[law, "aic"] == pytest.approx(2 * k - 2 * t.loc[law, "log_likelihood"])
        assert t.loc[law, "bic"] == pytest.approx(k * math.log(15) - 2 * t.loc[law, "log_likelihood"])
    assert t.loc["power", "aic"] < t.loc["m1", "aic"]
    assert set(c.validations) == {"m1", "power", "m3"} and c.fits["power"].n_runs == 15
    assert json.loads(json.dumps(c.to_dict()))["best"] == "power"
    assert "tie-breaker" in c.summary() and repr(c).startswith("Comparison(best='power'")


def test_log_likelihood_matches_its_formula():
    from scalinglaws.engine.fit import fit
    from scalinglaws.data.runs import load_runs

    runs = load_runs(_curve(noise=0.02, seed=2))
    f = fit(runs, "power")
    r = np.log(runs.column("loss")) - np.log(f.predict(x=runs.column("x")))
    g, kind = log_likelihood(f, runs, "gaussian")
    assert kind == "gaussian" and g == pytest.approx(-7.5 * (math.log(2 * math.pi * np.mean(r**2)) + 1))
    lap, kind = log_likelihood(f, runs, "laplace")
    assert kind == "laplace" and lap == pytest.approx(-15 * (math.log(2 * np.mean(np.abs(r))) + 1))
    # residuals of 2 % are far beyond Huber's 1e-3: the Laplace approximation is chosen
    assert log_likelihood(f, runs)[1] == "laplace"
    assert log_likelihood(fit(runs, "power", loss="squared"), runs)[1] == "gaussian"


def test_compare_bad_input():
    with pytest.raises(LawError, match="needs a list of laws"):
        compare(_curve(), "power")
    with pytest.raises(FitError, match="likelihood must be"):
        compare(_curve(), ["power", "m1"], likelihood="cauchy")


# ----------------------------------------------------------------------------- ladders

C = np.geomspace(1e18, 1e21, 8)


def _ladder(scale: float, exponent: float = 0.1, amplitude: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"flops": C, "loss": 1.7 + amplitude * (scale / C) ** exponent})


def test_constant_multiplier_of_a_shifted_ladder():
    # variant(C) = 1.7 + (0.5e17 / C)**0.1 = baseline(2 C): worth twice the compute
    r = compare_ladders(_ladder(1e17), _ladder(0.5e17), bootstrap=0)
    assert isinstance(r, LadderComparison)
    assert np.allclose(r.multiplier, 2.0, rtol=1e-3)
    assert r.crossings == () and not r.frontier
    assert np.isnan(r.lower).all()
    assert r.multiplier_at(3e19) == pytest.approx(2.0, rel=1e-3)
    assert json.loads(json.dumps(r.to_dict()))["law"] == "power"


def test_crossing_of_two_ladders():
    # baseline 1.7 + u**0.1, variant 1.7 + 2 u**0.2 with u = 1e17/C: equal where u**0.1 = 1/2
    r = compare_ladders(_ladder(1e17), _ladder(1e17, 0.2, 2.0), bootstrap=0)
    assert len(r.crossings) == 1
    assert r.crossings[0] == pytest.approx(1e17 * 2**10, rel=1e-3)
    k = r.multiplier
    assert np.all(k[r.flops < r.crossings[0]] < 1) and np.all(k[r.flops > r.crossings[0] * 1.01] > 1)


def test_multiplier_interval_from_the_bootstrap():
    rng = np.random.default_rng(4)
    base = _ladder(1e17).assign(loss=lambda d: d.loss * np.exp(rng.normal(0, 0.003, 8)))
    var = _ladder(0.5e17).assign(loss=lambda d: d.loss * np.exp(rng.normal(0, 0.003, 8)))
    r = compare_ladders(base, var, bootstrap=40, flops=np.geomspace(1e18, 1e21, 7))
    assert r.flops.size == 7
    assert np.all(r.lower <= r.multiplier) and np.all(r.multiplier <= r.upper)
    assert r.lower[3] < 2.0 < r.upper[3]
    assert "effective-compute multiplier" in r.summary()


def test_frontier_multiplier_of_laws_in_size_and_data():
    # variant(N, D) = baseline(c N, c D) has the frontier L*_v(C) = L*_b(c**2 C): k = c**2 = 2
    c = math.sqrt(2.0)
    n = np.repeat(np.geomspace(1e7, 1e9, 6), 4)
    d = np.tile(np.geomspace(1e9, 1e11, 4), 6)

    def law(A: float, B: float) -> pd.DataFrame:
        return pd.DataFrame({"n_params": n, "n_tokens": d, "loss": 1.7 + A * n**-0.34 + B * d**-0.28})

    starts = {"E": [1.0, 2.0], "A": [100.0, 1000.0], "B": [100.0, 1000.0], "alpha": [0.3], "beta": [0.3]}
    r = compare_ladders(law(400.0, 400.0), law(400.0 * c**-0.34, 400.0 * c**-0.28), "chinchilla",
                        bootstrap=0, starts=starts, flops=[1e18, 1e20, 1e22])
    assert r.frontier
    assert np.allclose(r.multiplier, 2.0, rtol=2e-3)


def test_ladder_bad_input():
    with pytest.raises(LawError, match="needs a law of one variable"):
        compare_ladders(_ladder(1e17), _ladder(1e17), "muennighoff")
    with pytest.raises(DataError, match="flops must be positive"):
        compare_ladders(_ladder(1e17), _ladder(1e17), bootstrap=0, flops=[1e18, -1.0])
    with pytest.raises(DataError, match="column 'flops' is missing"):
        compare_ladders(_ladder(1e17).drop(columns="flops").assign(x=C), _ladder(1e17), bootstrap=0)


def test_cli_compare(monkeypatch, tmp_path, capsys):
    path = tmp_path / "curve.csv"
    _curve().to_csv(path, index=False)
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.judge"))
    code = cli.main(["compare", str(path), "--law", "m1", "--law", "power", "--bootstrap", "0", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["best"] == "power" and len(out["table"]) == 2
    assert cli.main(["compare", str(path), "--law", "power"]) == 2
    assert "at least two laws" in capsys.readouterr().err


def test_a_one_variable_law_is_compared_along_by() -> None:
    import numpy as np
    import pandas as pd

    import scalinglaws as sl

    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e8), np.log(1e10), 40))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e11), 40))
    truth = {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    loss = sl.get_law("chinchilla")(truth, n_params=N, n_tokens=D) * np.exp(rng.normal(0, 0.005, 40))
    df = pd.DataFrame({"n_params": N, "n_tokens": D, "loss": loss})
    cmp = sl.compare(df, ["chinchilla", "power"], by="flops", bootstrap=20)
    assert set(cmp.table.law) == {"chinchilla", "power"}
    assert np.isfinite(cmp.table.rmse_log).all()
    assert dict(cmp.fits["power"].options["variables"]) == {"x": "flops"}
