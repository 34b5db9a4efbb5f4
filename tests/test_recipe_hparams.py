"""Recipe hyperparameters: per-target variables in fit_hparams, Power Lines, LR transfer rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws import schedules
from scalinglaws.errors import DataError


def _step_law_sweep() -> pd.DataFrame:
    """Loss valleys around Step Law's optima: lr(N, D) = 1.79 N^-0.713 D^0.307, B(D) = 0.58 D^0.571."""
    rows = []
    for n in (1e8, 3e8, 1e9):
        for d in (2e9, 1e10, 5e10):
            lr_opt, b_opt = 1.79 * n**-0.713 * d**0.307, 0.58 * d**0.571
            for b in b_opt * 2.0 ** np.arange(-3, 4):
                for lr in lr_opt * 2.0 ** np.arange(-4, 5):
                    loss = 2 + 0.05 * np.log(lr / lr_opt) ** 2 + 0.03 * np.log(b / b_opt) ** 2
                    rows.append((n, d, lr, b, loss))
    return pd.DataFrame(rows, columns=["n_params", "n_tokens", "lr", "batch_size", "loss"])


def test_per_target_variables_recover_step_law() -> None:
    """Golden (LAWS.md §7.2, Step Law [S]): a sweep built on Step Law's constants gives them back when
    the batch law is fitted on D only and the LR law on N and D."""
    hf = sl.fit_hparams(_step_law_sweep(), variables={"lr": ["n_params", "n_tokens"], "batch_size": ["n_tokens"]},
                        bootstrap=0)
    assert hf.batch_size.variables == ("n_tokens",)
    assert hf.batch_size.exponents["n_tokens"] == pytest.approx(0.571, abs=1e-3)
    assert hf.batch_size.coefficient == pytest.approx(0.58, rel=0.02)
    assert hf.lr.exponents == pytest.approx({"n_params": -0.713, "n_tokens": 0.307}, abs=1e-3)
    preset = sl.recommend_hparams("step_law", n_params=1e9, n_tokens=2e10)
    fitted = sl.recommend_hparams(hf, n_params=1e9, n_tokens=2e10)
    assert fitted.lr == pytest.approx(preset.lr, rel=0.01)
    assert fitted.batch_size == pytest.approx(preset.batch_size, rel=0.01)


def test_per_target_variables_are_checked() -> None:
    with pytest.raises(DataError, match="names targets"):
        sl.fit_hparams(_step_law_sweep(), variables={"wd": ["n_tokens"]})
    with pytest.raises(DataError, match="non-empty list"):
        sl.fit_hparams(_step_law_sweep(), variables={"lr": "n_tokens"})


def _power_lines_sweep(m: float = -0.5, p: float = 0.4) -> pd.DataFrame:
    rows = []
    for n in (1e8, 4e8):
        for tpp in (20, 80, 320):
            d = n * tpp
            tau_opt, b_opt = 0.1 * tpp**m, 2e-2 * d**p
            for b in b_opt * 2.0 ** np.arange(-2, 3):
                lr = 1e-3
                for wd in b / (lr * tau_opt * d) * 2.0 ** np.arange(-4, 5):
                    tau = b / (lr * wd * d)
                    loss = 2.5 + 0.04 * np.log(tau / tau_opt) ** 2 + 0.02 * np.log(b / b_opt) ** 2
                    rows.append((n, d, b, lr, wd, loss))
    return pd.DataFrame(rows, columns=["n_params", "n_tokens", "batch_size", "lr", "weight_decay", "loss"])


def test_power_lines_fit_and_recommendation() -> None:
    pl = sl.fit_power_lines(_power_lines_sweep(), bootstrap=0)
    assert pl.tau.exponents["tokens_per_param"] == pytest.approx(-0.5, abs=0.02)
    assert pl.b_opt.exponents["n_tokens"] == pytest.approx(0.4, abs=0.02)
    adv = pl.recommend(n_params=1e9, n_tokens=2e10, lr=1e-3)
    assert adv.batch_size == pytest.approx(2e-2 * 2e10**0.4, rel=0.1)
    assert adv.tau == pytest.approx(0.1 * 20**-0.5, rel=0.1)
    # the weight decay gives AdamW that timescale
    assert sl.adamw_timescale(batch_size=adv.batch_size, lr=1e-3, weight_decay=adv.weight_decay,
                              n_tokens=2e10) == pytest.approx(adv.tau)
    assert "PowerLinesAdvice" in repr(adv) and pl.to_dict()["tau"]["target"] == "tau"


def test_weight_decay_scales_with_batch_at_fixed_tau() -> None:
    """Power Lines (abstract [P]): at fixed N, D the optimal timescale is constant, so lambda_opt is
    proportional to B."""
    lam = sl.weight_decay_for(batch_size=np.array([1e6, 2e6, 4e6]), lr=1e-3, n_tokens=1e10, tau=0.2)
    assert np.allclose(lam / lam[0], [1, 2, 4])
    with pytest.raises(DataError, match="give tau="):
        sl.weight_decay_for(batch_size=1e6, lr=1e-3, n_tokens=1e10)


def test_power_scheduler_lr_and_schedule_agree() -> None:
    """Shen et al. 2024 (LAWS.md §7.3; a, b, lr_max marked [U]): lr = min(lr_max, beta a T^b); the
    schedule's stable part is that rule at the tokens seen so far."""
    lrs = schedules.power_schedule(20_000, batch_size=512, tokens_per_step=512 * 4096, warmup=200, cooldown=0.1)
    i = 12_000
    assert lrs[i - 1] == pytest.approx(sl.power_scheduler_lr(512, i * 512 * 4096))
    assert lrs[199] == pytest.approx(min(0.02, 512 * 4.6 * (200 * 512 * 4096) ** -0.51))
    assert np.all(np.diff(lrs[200:]) <= 1e-15) and lrs[-1] == 0.0
    assert sl.power_scheduler_lr(1, 1.0) == 0.02  # capped


def test_adam_sqrt_rule_and_ema_rule() -> None:
    """Malladi et al. 2022 (square-root scaling rule for Adam) and Busbridge et al. 2023 (EMA rule)."""
    s = sl.adam_sqrt_scaling(4, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    assert (s.lr, s.beta1, s.beta2, s.eps) == pytest.approx((2e-3, 0.6, 0.996, 5e-9))
    assert sl.sqrt_batch_lr(1e-3, 1024, 256) == pytest.approx(5e-4)
    with pytest.raises(DataError, match="does not reach"):
        sl.adam_sqrt_scaling(20, lr=1e-3, beta1=0.95)
    # one EMA step at rho^k forgets the old average as much as k steps at rho
    rho, k, avg = 0.99, 8, 1.0
    for _ in range(k):
        avg = rho * avg
    assert sl.ema_momentum(rho, k) == pytest.approx(avg)
    with pytest.raises(DataError, match="momentum"):
        sl.ema_momentum(1.5, 2)
