"""Hyperparameter laws: local optima, fitted and published laws, critical batch size."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalinglaws.cli.app as cli
from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.plan.flops import Architecture, flops_per_token
from scalinglaws.plan.hparams import (
    HparamLaw,
    critical_batch_size,
    fit_hparams,
    hparam_preset,
    recommend_hparams,
)

# the true optima of the synthetic sweeps
LR = (0.5, -0.4, 0.1)  # lr* = 0.5 N^-0.4 D^0.1
BS = (0.6, 0.55)  # B* = 0.6 D^0.55


def lr_star(n, d):
    return LR[0] * n ** LR[1] * d ** LR[2]


def bs_star(d):
    return BS[0] * d ** BS[1]


def sweep(batch=True, noise=0.0, seed=0, lr_grid=None):
    """Loss = L(N, D) + quadratic valleys in log lr and log batch, on coarse factor-2 grids."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in (1e7, 3e7, 1e8, 3e8, 1e9):
        for ratio in (20, 80):
            d = ratio * n
            base = 1.8 + 480 / n**0.35 + 2000 / d**0.37
            lr_c = lr_star(n, d)
            grid = lr_grid if lr_grid is not None else lr_c * 2.0 ** np.arange(-3.3, 3.0)
            batches = bs_star(d) * 2.0 ** np.arange(-2.45, 2.0) if batch else [bs_star(d)]
            for b in batches:
                for eta in grid:
                    loss = base + 0.02 * np.log(eta / lr_c) ** 2 + 0.01 * np.log(b / bs_star(d)) ** 2
                    rows.append({"n_params": n, "n_tokens": d, "lr": eta, "batch_size": b,
                                 "loss": loss + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- fitting


def test_local_parabola_recovers_exact_laws_from_coarse_grids():
    fit = fit_hparams(sweep(), bootstrap=0)
    assert fit.lr.exponents["n_params"] == pytest.approx(LR[1], abs=1e-6)
    assert fit.lr.exponents["n_tokens"] == pytest.approx(LR[2], abs=1e-6)
    assert fit.lr.coefficient == pytest.approx(LR[0], rel=1e-5)
    assert fit.batch_size.exponents["n_tokens"] == pytest.approx(BS[1], abs=1e-6)
    assert fit.batch_size.exponents["n_params"] == pytest.approx(0.0, abs=1e-6)
    opt = fit.optima
    assert np.allclose(opt["lr_opt"], lr_star(opt["n_params"], opt["n_tokens"]), rtol=1e-6)
    assert not opt["lr_edge"].any() and not opt["batch_size_edge"].any()


def test_raw_argmin_would_be_quantised():
    df = sweep(batch=False)
    raw = df.loc[df.groupby(["n_params", "n_tokens"])["loss"].idxmin()]
    raw_err = np.abs(np.log(raw["lr"].to_numpy() / lr_star(raw["n_params"], raw["n_tokens"]).to_numpy()))
    assert raw_err.max() > 0.2  # grid spacing log 2: the argmin is off by up to ~0.35
    fit = fit_hparams(df, bootstrap=0)
    ours = np.abs(np.log(fit.optima["lr_opt"] / lr_star(fit.optima["n_params"], fit.optima["n_tokens"])))
    assert ours.max() < 1e-6
    assert fit.batch_size is None


def test_noisy_sweep_intervals_cover_truth():
    fit = fit_hparams(sweep(noise=0.002, seed=1), bootstrap=300, seed=0)
    lo, hi = fit.lr.intervals["n_params"]
    assert lo < LR[1] < hi
    lo, hi = fit.batch_size.intervals["n_tokens"]
    assert lo < BS[1] < hi
    advice = recommend_hparams(fit, n_params=7e9, n_tokens=1.4e11)
    a, b = advice.intervals["lr"]
    assert a < advice.lr < b
    assert advice.lr == pytest.approx(lr_star(7e9, 1.4e11), rel=0.25)


def test_scale_in_flops():
    df = sweep(batch=False)
    df["flops"] = 6 * df["n_params"] * df["n_tokens"]
    fit = fit_hparams(df, scale=["flops"], bootstrap=0)
    assert fit.lr.variables == ("flops",)
    assert fit.lr.r2 < 1.0  # lr* depends on N and D separately, not on C alone


def test_edge_optimum_is_flagged_and_left_out():
    df = sweep(batch=False)
    # at the smallest model, keep only learning rates below the optimum
    small = (df.n_params == 1e7) & (df.n_tokens == 20 * 1e7)
    df = df[~small | (df.lr < lr_star(1e7, 2e8) * 0.9)]
    with pytest.warns(ScalingLawsWarning, match="1 of 10 scales have their best lr at the end"):
        fit = fit_hparams(df, bootstrap=0)
    assert fit.optima["lr_edge"].sum() == 1
    assert fit.lr.n_points == 9
    assert fit.lr.exponents["n_params"] == pytest.approx(LR[1], abs=1e-6)


# --------------------------------------------------------------------------- presets


def test_presets_are_the_published_laws():
    ds = hparam_preset("deepseek")  # LAWS.md §7.1
    for C in (1e17, 1e20, 1e23):
        assert ds["lr"].predict(flops=C) == pytest.approx(0.3118 * C**-0.1250)
        assert ds["batch_size"].predict(flops=C) == pytest.approx(0.2920 * C**0.3271)
    step = hparam_preset("Step Law")  # LAWS.md §7.2
    assert step["lr"].predict(n_params=1e9, n_tokens=1e11) == pytest.approx(1.79 * 1e9**-0.713 * 1e11**0.307)
    assert step["batch_size"].predict(n_tokens=1e11) == pytest.approx(0.58 * 1e11**0.571)
    por = hparam_preset("porian")  # LAWS.md §7.4, in tokens
    assert por["batch_size"].predict(n_params=1e8) == pytest.approx(0.7576 * 1e8**0.703, rel=1e-3)


def test_deepseek_preset_with_its_flop_convention():
    # DeepSeek's C is M * D with M = 72 L d^2 + 12 L d l_seq (non-embedding, attention included)
    arch = Architecture(n_layer=30, d_model=4096, n_head=32, seq_len=4096)
    C = flops_per_token(arch, "deepseek") * 2e12
    advice = recommend_hparams("deepseek", flops=C)
    assert advice.lr == pytest.approx(0.3118 * C**-0.125)
    assert 3e-4 < advice.lr < 6e-4 and 5e6 < advice.batch_size < 2e7
    assert "deepseek" in advice.report()


def test_recommend_with_explicit_laws_and_default_flops():
    laws = {"lr": HparamLaw("lr", 1.0, {"flops": -0.1})}
    advice = recommend_hparams(laws, n_params=1e9, n_tokens=2e10)
    assert advice.target["flops"] == 6 * 1e9 * 2e10
    assert advice.lr == pytest.approx((1.2e20) ** -0.1)
    assert advice.batch_size is None


# --------------------------------------------------------------------------- critical batch size


def test_critical_batch_size_recovers_b_crit():
    B = np.geomspace(16, 65536, 10)
    S = 500 * (1 + 4096 / B)
    cb = critical_batch_size(pd.DataFrame({"steps": S, "examples": S * B}), bootstrap=0)
    assert cb.b_crit == pytest.approx(4096, rel=1e-6)
    assert cb.s_min == pytest.approx(500, rel=1e-6) and cb.e_min == pytest.approx(500 * 4096, rel=1e-6)
    # the hyperbola of McCandlish et al.: (S/S_min - 1)(E/E_min - 1) = 1
    assert np.allclose((cb.steps(B) / cb.s_min - 1) * (cb.examples(B) / cb.e_min - 1), 1.0)


def test_critical_batch_size_noisy_with_batch_column():
    rng = np.random.default_rng(2)
    B = np.geomspace(32, 32768, 12)
    S = 800 * (1 + 2000 / B) * np.exp(0.03 * rng.standard_normal(B.size))
    cb = critical_batch_size(pd.DataFrame({"steps": S, "batch_size": B}), batch_size="batch_size", bootstrap=200)
    lo, hi = cb.intervals["b_crit"]
    assert lo < 2000 < hi
    assert cb.rmse < 0.06
    assert "b_crit=" in repr(cb)


def test_critical_batch_bad_input():
    df = pd.DataFrame({"steps": [100.0, 200.0], "examples": [1e5, 1e5]})
    with pytest.raises(DataError, match="at least 3"):
        critical_batch_size(df)
    with pytest.raises(DataError, match="steps"):
        critical_batch_size(pd.DataFrame({"examples": [1.0, 2.0, 3.0]}))


# --------------------------------------------------------------------------- bad input


def test_bad_input():
    df = sweep(batch=False)
    with pytest.raises(DataError, match="nothing to optimise"):
        fit_hparams(df[df.lr == df.lr.iloc[0]].drop(columns="batch_size"))
    few = df[df.n_params == 1e7]
    with pytest.raises(FitError, match="needs at least 3 scales"):
        fit_hparams(few, bootstrap=0)
    with pytest.raises(DataError, match="unknown hyperparameter preset"):
        hparam_preset("gpt5")
    with pytest.raises(DataError, match="missing"):
        recommend_hparams("step_law", flops=1e22)
    with pytest.raises(DataError, match="positive"):
        recommend_hparams("deepseek", flops=-1)
    with pytest.raises(DataError, match="lr"):
        fit_hparams(df.assign(lr=-df.lr))


def test_to_dict_and_repr():
    fit = fit_hparams(sweep(), bootstrap=20)
    d = json.loads(json.dumps(fit.to_dict()))
    assert set(d["laws"]) == {"lr", "batch_size"}
    assert "HparamFit(10 scales" in repr(fit)
    assert "lr = " in repr(fit.lr)


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def cli_main(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.plan"))
    return cli.main


def test_cli_hparams(cli_main, tmp_path, capsys):
    path = tmp_path / "sweep.csv"
    sweep().to_csv(path, index=False)
    args = ["hparams", str(path), "--n-params", "1e9", "--n-tokens", "2e10", "--bootstrap", "20", "--json"]
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["laws"]["lr"]["exponents"]["n_params"] == pytest.approx(LR[1], abs=1e-6)
    assert out["recommendation"]["lr"] == pytest.approx(lr_star(1e9, 2e10), rel=1e-4)
    assert cli_main(["hparams", "--preset", "deepseek", "--target-flops", "1e23"]) == 0
    assert "learning rate" in capsys.readouterr().out


def test_cli_critical_batch_and_errors(cli_main, tmp_path, capsys):
    B = np.geomspace(16, 65536, 10)
    S = 500 * (1 + 4096 / B)
    path = tmp_path / "cb.csv"
    pd.DataFrame({"steps": S, "examples": S * B}).to_csv(path, index=False)
    assert cli_main(["hparams", str(path), "--critical-batch", "--json", "--bootstrap", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["b_crit"] == pytest.approx(4096, rel=1e-6)
    assert cli_main(["hparams"]) == 2
    assert "error: give a sweep" in capsys.readouterr().err
    assert cli_main(["hparams", "--preset", "nope", "--target-flops", "1e22"]) == 2
    assert "unknown hyperparameter preset" in capsys.readouterr().err
