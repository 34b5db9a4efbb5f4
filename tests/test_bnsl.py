"""The broken power law stays finite and continuous far past a sharp break."""

from __future__ import annotations

import numpy as np

from scalinglaws.laws import get_law


def test_a_sharp_break_far_beyond_its_location_does_not_overflow() -> None:
    # parameters a fit reached on a real LCDB curve: f1 = 0.0088 makes (x/d1)**(1/f1)
    # overflow past x ~ 6e4, and the law used to drop to its limit a there
    p = {"a": 0.2199, "b": 0.3885, "c0": 0.1718, "c1": 0.2502, "d1": 120.1196, "f1": 0.0088}
    x = np.geomspace(1e3, 1e7, 400)
    y = get_law("bnsl")(p, x=x)
    z = np.log(x / p["d1"]) / p["f1"]
    exact = p["a"] + p["b"] * x ** -p["c0"] * np.exp(-p["c1"] * p["f1"] * np.logaddexp(0.0, z))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, exact, rtol=1e-12)
    assert np.max(np.abs(np.diff(np.log(y - p["a"])))) < 0.05  # no jump between neighbours
