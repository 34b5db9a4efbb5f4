"""The M4 solve (Newton in the logit of u) against a plain bisection, and its gradient."""

import numpy as np

from scalinglaws.laws import get_law
from scalinglaws.laws.curves import m4_error


def _bisect(x, eps_inf, eps_0, alpha, beta, c, steps=200):
    """Reference: bisection on u in (0, 1) of log u - alpha*log(1-u) = rhs, in long double."""
    x, eps_inf, eps_0, alpha, beta, c = np.broadcast_arrays(*(np.asarray(v, np.longdouble) for v in (x, eps_inf, eps_0, alpha, beta, c)))
    span = eps_0 - eps_inf
    rhs = np.log(beta) + c * np.log(x) + (alpha - 1) * np.log(span)
    lo, hi = np.zeros_like(rhs), np.ones_like(rhs)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            mid = (lo + hi) / 2
            up = np.log(mid) - alpha * np.log1p(-mid) < rhs
            lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return np.asarray(eps_inf + (lo + hi) / 2 * span, dtype=float), np.asarray((lo + hi) / 2, dtype=float)


def test_m4_matches_bisection():
    rng = np.random.default_rng(3)
    n = 5000
    x = 10 ** rng.uniform(0, 8, n)
    ei = rng.uniform(0, 1, n) * rng.integers(0, 2, n)
    e0 = ei + 10 ** rng.uniform(-3, 1, n)
    al = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0, 10, n))
    be = 10 ** rng.uniform(-4, 6, n)
    c = rng.uniform(-3, 0, n)
    ref, u = _bisect(x, ei, e0, al, be, c)
    got = m4_error(x, ei, e0, al, be, c)
    ok = (u > 1e-12) & (u < 1 - 1e-12)  # where a long-double bisection resolves err to full precision
    assert ok.sum() > 3000
    np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-12)
    assert np.all(np.isfinite(got)) and np.all(got >= ei) and np.all(got <= e0)


def test_m4_edges():
    out = m4_error(np.array([0.0, np.inf, 10.0, -1.0]), 0.1, 1.0, 0.5, 2.0, -0.5)
    assert out[0] == 1.0 and out[1] == 0.1  # x -> 0 starts at eps_0, x -> inf ends at eps_inf
    assert 0.1 < out[2] < 1.0 and np.isnan(out[3])
    assert np.isnan(m4_error(10.0, 1.0, 0.5, 0.5, 2.0, -0.5))  # eps_0 below eps_inf
    # alpha = 0 is M2 (beta x^c + eps_inf) while that stays below eps_0
    np.testing.assert_allclose(m4_error(100.0, 0.2, 5.0, 0.0, 3.0, -0.5), 0.2 + 3.0 * 100.0**-0.5, rtol=1e-13)


def test_m4_gradient_matches_finite_differences():
    law = get_law("m4")
    X = {"x": np.geomspace(10, 1e5, 9)}
    p = {"eps_inf": 0.05, "eps_0": 1.2, "alpha": 0.7, "beta": 20.0, "c": -0.6}
    val, grads = law.value_and_grad(X, {k: np.asarray(v) for k, v in p.items()})
    for name, g in zip(("eps_inf", "eps_0", "alpha", "beta", "c"), grads):
        h = 1e-6 * max(abs(p[name]), 1e-3)
        up = m4_error(X["x"], **{**p, name: p[name] + h})
        dn = m4_error(X["x"], **{**p, name: p[name] - h})
        np.testing.assert_allclose(g, (up - dn) / (2 * h), rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(val, m4_error(X["x"], **p), rtol=1e-15)
