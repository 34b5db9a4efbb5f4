"""One contract for every law in the catalog: shapes, broadcasting, exact Jacobians and
recovery of known parameters from seeded synthetic data with noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.laws import CATALOG, get_law

GRID_N = np.geomspace(1e8, 1e10, 6)
GRID_D = np.geomspace(1e9, 1e11, 6)
NN, DD = (a.ravel() for a in np.meshgrid(GRID_N, GRID_D))

# law -> (true parameters, design of the variables, parameters that the design pins down)
CASES: dict[str, tuple[dict[str, float], dict[str, np.ndarray], tuple[str, ...]]] = {
    "power": ({"E": 1.5, "A": 300.0, "alpha": 0.3}, {"x": np.geomspace(1e6, 1e11, 30)}, ("E", "A", "alpha")),
    "m1": ({"beta": 5.0, "c": -0.2}, {"x": np.geomspace(1e2, 1e6, 20)}, ("beta", "c")),
    "m2": ({"beta": 5.0, "c": -0.3, "eps_inf": 0.2}, {"x": np.geomspace(1e2, 1e7, 25)}, ("beta", "c", "eps_inf")),
    "m3": ({"beta": 2.0, "gamma": 1e-4, "c": 0.4}, {"x": np.geomspace(10, 1e7, 25)}, ("beta", "c")),
    "m4": (
        {"eps_inf": 0.1, "eps_0": 0.9, "alpha": 0.5, "beta": 2.0, "c": -0.4},
        {"x": np.geomspace(1, 1e6, 30)},
        (),
    ),
    "bnsl": (
        {"a": 0.4, "b": 2.0, "c0": 0.05, "c1": 1.0, "d1": 1000.0, "f1": 0.3},
        {"x": np.geomspace(10, 1e6, 40)},
        (),
    ),
    "chinchilla": (
        {"E": 1.8172, "A": 477.8, "B": 2143.0, "alpha": 0.3473, "beta": 0.3672},
        {"n_params": NN, "n_tokens": DD},
        ("E", "alpha", "beta"),
    ),
    "kaplan": (
        {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103},
        {"n_params": NN, "n_tokens": DD},
        ("alpha_N", "alpha_D"),
    ),
    "henighan": ({"L_inf": 1.7, "C_0": 1e23, "alpha": 0.15}, {"flops": np.geomspace(1e17, 1e23, 25)}, ("L_inf", "alpha")),
    "muennighoff": (
        {"E": 1.869, "A": 520.8, "alpha": 0.3527, "B": 1487.7, "R_N": 5.31, "R_D": 15.39},
        {
            "n_params": np.repeat(np.geomspace(1e8, 3e9, 5), 8),
            "unique_tokens": np.tile(np.geomspace(1e9, 1e10, 2).repeat(4), 5),
            "n_tokens": np.tile(np.geomspace(1e9, 1e10, 2).repeat(4), 5) * np.tile([1, 4, 16, 40], 10),
        },
        ("E", "alpha"),
    ),
    "nmt": (
        {"L_inf": 1.5, "k": 5000.0, "p_e": 0.2, "p_d": 0.3},
        {"n_params_encoder": NN / 10, "n_params_decoder": DD / 100},
        ("p_e", "p_d"),
    ),
}


def _curve_design() -> dict[str, np.ndarray]:
    from scalinglaws import schedules

    parts = []
    for lrs in (schedules.constant(3e-4, 10_000, warmup=500), schedules.cosine(3e-4, 10_000, warmup=500)):
        s1, s2 = schedules.areas(lrs)
        idx = np.arange(499, 10_000, 250)
        parts.append((s1[idx], s2[idx]))
    return {"s1": np.concatenate([p[0] for p in parts]), "s2": np.concatenate([p[1] for p in parts])}


CASES.update(
    {
        "lr_annealing": ({"L0": 2.0, "A": 1.37, "alpha": 0.3, "C": 1.2}, _curve_design(), ("L0", "A", "alpha", "C")),
        "kaplan_steps": (
            {"N_c": 6.5e13, "alpha_N": 0.077, "S_c": 2.1e3, "alpha_S": 0.76},
            {"n_params": NN, "steps": np.geomspace(1e3, 1e5, 6).repeat(6)},
            ("alpha_N", "alpha_S"),
        ),
        "overtraining": (
            {"E": 1.84, "a": 166.2, "b": 366.7, "alpha": 0.273},
            {"n_params": NN, "tokens_per_param": np.geomspace(5, 640, 6).repeat(6)},
            ("E", "alpha"),
        ),
        "downstream_exp": ({"eps": 0.857, "k": 2.21, "gamma": 0.715}, {"loss": np.linspace(2.4, 6.0, 25)}, ("eps", "k", "gamma")),
        "coverage": ({"a": -2.0, "b": -0.4}, {"n_samples": np.geomspace(1, 1e4, 30)}, ("a", "b")),
        "loss_to_loss": ({"K": 1.3, "E_x": 1.6, "kappa": 0.8, "E_y": 1.9}, {"loss_x": np.linspace(2.2, 5.0, 30)}, ()),
        "rectified": (
            {"B": 2000.0, "D_l": 300.0, "beta": 0.6, "E": 1.5},
            {"finetune_examples": np.geomspace(10, 1e6, 30)},
            ("B", "D_l", "beta", "E"),
        ),
        "accuracy_sigmoid": (
            {"floor": 0.25, "ceiling": 0.95, "k": 2.5, "L0": 3.0},
            {"loss": np.linspace(1.0, 5.5, 30)},
            ("floor", "ceiling", "k", "L0"),
        ),
        "sparsing_relu": ({"A_0": 0.07, "b": -3.0, "c": 2e-5, "alpha": 0.45}, {"n_tokens": np.geomspace(3e9, 3e11, 30)}, ("A_0", "alpha")),
        "sparsing_silu": ({"A_0": 0.39, "c": 300.0, "alpha": 0.35}, {"n_tokens": np.geomspace(1e9, 2e11, 30)}, ("A_0", "alpha")),
    }
)


_R = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
_NDR = [a.ravel() for a in np.meshgrid(np.geomspace(1e8, 1e10, 4), np.geomspace(1e9, 1e11, 4), _R)]
_MIX = np.linspace(0.0, 1.0, 15)
CASES.update(
    {  # issue 15, data laws (laws/data_laws.py); truths are illustrative, the filtering one Goyal et al.'s top-10 % pool
        "dcpt": (
            {"E": 1.2, "A": 60.0, "alpha": 0.3, "B": 400.0, "eta": 0.1, "beta": 0.35, "C": 0.08, "eps": 0.05, "gamma": 0.5},
            {"n_params": _NDR[0], "n_tokens": _NDR[1], "mix_ratio": _NDR[2]},
            (),
        ),
        "data_mixing": ({"c": 1.5, "t_r_1": -1.0, "t_r_2": 0.5}, {"r_1": _MIX, "r_2": 1.0 - _MIX}, ("c", "t_r_1", "t_r_2")),
        "data_filtering": (
            {"a": 2.5e-7, "b": -0.16, "tau": 6.7, "d": 0.1},
            {"n_tokens": np.geomspace(4e6, 5e8, 20), "unique_tokens": np.full(20, 1.28e7)},
            ("b",),
        ),
    }
)


def _history_design() -> dict[str, np.ndarray]:
    """Keys of three registered schedules and the logged steps (the multi-power law's variables)."""
    from scalinglaws import schedules
    from scalinglaws.dynamics.curves import curve_variables

    keys, steps = [], []
    for lrs in (schedules.constant(3e-4, 1000, warmup=50), schedules.cosine(3e-4, 1000, warmup=50),
                schedules.wsd(3e-4, 1000, warmup=50, cooldown=0.3)):
        idx = np.arange(100, 1001, 50)
        keys.append(curve_variables(lrs)["schedule"][idx - 1])
        steps.append(idx.astype(float))
    return {"schedule": np.concatenate(keys), "steps": np.concatenate(steps)}


# The 400M constants of the multi-power law as the authors' repository README tabulates them
# (Luo et al. 2025); LAWS.md has no entry for this law.
CASES["multi_power"] = (
    {"L0": 2.375, "A": 0.654, "alpha": 0.429, "B": 523.425, "C": 2.025, "beta": 0.594, "gamma": 0.635},
    _history_design(),
    ("L0", "A", "alpha"),
)


# Gemstones width-depth law (McLeish et al. 2025) at its published constants; 4 widths x 4 depths x 3 token counts
_W, _L, _T = (a.ravel() for a in np.meshgrid([256.0, 768.0, 2048.0, 4096.0], [4.0, 12.0, 32.0, 64.0], [2e10, 1e11, 3e11]))
CASES["shape"] = (dict(__import__("scalinglaws.laws.shape", fromlist=["x"]).GEMSTONES_CONSTANTS), {"d_model": _W, "n_layer": _L, "n_params": 12 * _L * _W**2 + 1e5 * _W, "n_tokens": _T}, ())
# Precision laws (laws/precision.py): Chinchilla's published E, A, alpha, B, beta; the precision constants
# (gammas, C_T, delta, nu) are chosen for the test (LAWS.md 13.2-13.3: [U]); the papers' own constants,
# SUN_2025 and KUMAR_2024 (offsets=True), are checked against printed optima in tests/test_precision.py.
_PATTERNS = np.array([(16, 16, 16), (3, 16, 16), (5, 16, 16), (8, 16, 16), (16, 3, 16), (16, 5, 16), (16, 16, 2),
                      (16, 16, 4)], dtype=float).repeat(len(NN), axis=0)
_FORMATS = np.array([(4, 3, 128), (5, 2, 128), (2, 1, 32), (3, 2, 512), (1, 4, 64), (4, 3, 4096), (2, 3, 16),
                     (8, 7, 128)], dtype=float).repeat(len(NN), axis=0)
_CH = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}
CASES["kumar_precision"] = (
    {**_CH, "gamma_w": 2.5, "gamma_a": 2.0, "gamma_kv": 1.0},
    {"n_params": np.tile(NN, 8), "n_tokens": np.tile(DD, 8), "precision_w": _PATTERNS[:, 0],
     "precision_a": _PATTERNS[:, 1], "precision_kv": _PATTERNS[:, 2]},
    ("E", "alpha", "beta", "gamma_w", "gamma_a", "gamma_kv"),
)
CASES["kumar_ptq"] = (
    {**_CH, "C_T": 0.05, "gamma_post": 1.0, "gamma_D": 0.5, "gamma_N": 0.35},
    {"n_params": np.tile(NN, 5), "n_tokens": np.tile(DD, 5), "post_precision": np.repeat([16.0, 8, 6, 4, 3], len(NN))},
    ("E", "alpha", "beta", "gamma_post", "gamma_D", "gamma_N"),
)
CASES["fp_quant"] = (
    {"epsilon": 1.69, "n": 406.4, "alpha": 0.34, "d": 410.7, "beta": 0.28, "gamma": 1.0, "delta": 4.0, "nu": 3.0},
    {"n_params": np.tile(NN, 8), "n_tokens": np.tile(DD, 8), "exponent_bits": _FORMATS[:, 0],
     "mantissa_bits": _FORMATS[:, 1], "block_size": _FORMATS[:, 2]},
    ("epsilon", "alpha", "beta"),
)


@pytest.fixture(autouse=True)
def _multi_power_schedules_registered() -> None:
    """Register the multi-power cases' schedules again: another test's schedule search may
    have pushed them out of the bounded cache since this module was imported."""
    _history_design()


def test_every_catalog_law_has_a_case() -> None:
    assert set(CASES) == set(CATALOG)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_declares_what_it_needs(name: str) -> None:
    law = get_law(name)
    assert law.source, "every catalog law cites its source"
    assert law.variables and law.params
    grid = law.start_grid(CASES[name][1], np.ones(3))
    assert grid.shape[1] == len(law.params) and grid.shape[0] >= 1
    for j, p in enumerate(law.params):
        assert np.all((grid[:, j] >= p.lower) & (grid[:, j] <= p.upper)), p.name


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_shapes_and_broadcasting(name: str) -> None:
    law = get_law(name)
    truth, design, _ = CASES[name]
    y = law(truth, **design)
    n = len(next(iter(design.values())))
    assert y.shape == (n,) and np.all(np.isfinite(y)) and np.all(y > 0)
    # scalars give a scalar; a column of parameters against a row of runs gives a matrix
    first = {k: v[0] for k, v in design.items()}
    assert law(truth, **first).shape == ()
    assert np.isclose(float(law(truth, **first)), y[0])
    P = {k: np.array([[v], [v * 1.01]]) for k, v in truth.items()}
    out = np.asarray(law.function(design, P))
    assert np.broadcast_shapes(out.shape, (2, n)) == (2, n)
    assert np.allclose(np.broadcast_to(out, (2, n))[0], y)


@pytest.mark.parametrize("name", [n for n in sorted(CATALOG) if get_law(n).value_and_grad is not None])
def test_symbolic_jacobian_matches_finite_differences(name: str) -> None:
    law = get_law(name)
    truth, design, _ = CASES[name]
    P = {k: np.array([[v]]) for k, v in truth.items()}
    f, grads = law.value_and_grad(design, P)
    for k, (pname, value) in enumerate(truth.items()):
        h = 1e-6 * abs(value) + 1e-9
        up = dict(P, **{pname: np.array([[value + h]])})
        down = dict(P, **{pname: np.array([[value - h]])})
        fd = (np.asarray(law.function(design, up)) - np.asarray(law.function(design, down))) / (2 * h)
        g = np.broadcast_to(grads[k], fd.shape)
        assert np.allclose(g, fd, rtol=1e-4, atol=1e-8 * np.abs(f).max()), pname


@pytest.mark.parametrize("name", sorted(CATALOG))
@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_known_parameters_from_noisy_data(name: str, seed: int) -> None:
    law = get_law(name)
    truth, design, identified = CASES[name]
    rng = np.random.default_rng(seed)
    clean = law(truth, **design)
    noise = 0.003
    y = clean * np.exp(rng.normal(0, noise, clean.shape))
    frame = pd.DataFrame({**design, law.target: y})
    fit = sl.fit(sl.load_runs(frame), name, loss="squared")
    # the fit explains the data to the noise level ...
    rel = np.abs(np.log(fit.predict(**design) / clean))
    assert np.sqrt(np.mean(rel**2)) < 2 * noise
    # ... and the parameters the design identifies come back
    for p in identified:
        assert fit.params[p] == pytest.approx(truth[p], rel=0.1, abs=0.02), p


def test_fit_each_fits_laws_whose_inputs_do_not_stack_by_rows() -> None:
    # the multi-power law reads each run's LR schedule: its batch cannot stack groups by
    # rows (numpy refuses the shapes), so fit_each fits such groups one by one
    law = get_law("multi_power")
    truth, design, _ = CASES["multi_power"]
    frame = pd.DataFrame({**design, law.target: law(truth, **design)})
    table = sl.fit_each(frame, "multi_power", by="schedule", loss="squared")
    key = table.labels[0]
    alone = sl.fit(frame[frame["schedule"] == key].reset_index(drop=True), "multi_power", loss="squared")
    assert len(table) == frame["schedule"].nunique() >= 2
    assert table[key].params == pytest.approx(alone.params, rel=1e-9)
