"""fit() options as small values, with the older keywords still accepted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.errors import FitError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    x = np.geomspace(1e6, 1e10, 14)
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {"x": x, "loss": (1.5 + 300 * x**-0.3) * np.exp(rng.normal(0, 0.01, x.size))}
    )


def test_new_values_and_old_keywords_give_the_same_fit(frame: pd.DataFrame) -> None:
    old = sl.fit(frame, "power", loss="squared", space="linear", asymmetry=2.0, prune=False,
                 starts={"alpha": [0.2, 0.4]}, bootstrap=30, seed=4)  # fmt: skip
    new = sl.fit(
        frame,
        "power",
        objective=sl.Objective(loss="squared", space="linear", asymmetry=2.0),
        starts=sl.Starts(grid={"alpha": [0.2, 0.4]}, prune=False),
        bootstrap=sl.Bootstrap(30, seed=4),
    )
    assert new.params == old.params
    assert np.array_equal(new.draws, old.draws, equal_nan=True)
    assert new.options == old.options
    assert (
        new.options["loss"] == "squared"
        and new.options["prune"] is False
        and new.options["bootstrap"] == 30
    )
    # the options round-trip through JSON as before
    assert sl.Fit.from_json(new.to_json()).options == new.options


def test_defaults_are_the_hoffmann_recipe(frame: pd.DataFrame) -> None:
    assert sl.Objective() == sl.Objective(
        loss="huber", delta=1e-3, space="log", asymmetry=1.0
    )
    plain = sl.fit(frame, "power")
    assert plain.params == sl.fit(frame, "power", objective=sl.Objective()).params
    assert plain.draws is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"objective": sl.Objective(), "loss": "squared"},
            "loss= and objective= both set the objective",
        ),
        ({"objective": sl.Objective(), "delta": 0.1}, "delta= and objective="),
        ({"starts": sl.Starts(), "prune": False}, "prune= and starts="),
        ({"bootstrap": sl.Bootstrap(5), "seed": 1}, "seed= and bootstrap="),
        ({"objective": {"loss": "huber"}}, "objective must be a scalinglaws.Objective"),
        ({"bootstrap": 2.5}, "bootstrap must be a non-negative integer"),
        ({"loss": "l1"}, "loss must be 'huber' or 'squared'"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_an_option_given_twice_or_wrong_is_one_line_error(
    frame: pd.DataFrame, kwargs: dict, message: str
) -> None:
    with pytest.raises(FitError, match=message) as info:
        sl.fit(frame, "power", **kwargs)
    assert "\n" not in str(info.value)


def test_values_check_themselves() -> None:
    with pytest.raises(FitError, match="space must be"):
        sl.Objective(space="log10")
    with pytest.raises(FitError, match="delta must be a positive number"):
        sl.Objective(delta=0)
    with pytest.raises(FitError, match="bootstrap must be a non-negative integer"):
        sl.Bootstrap(-1)
    with pytest.raises(FitError, match="prune must be True or False"):
        sl.Starts(prune="yes")
    assert sl.Bootstrap(10, seed=2).to_dict() == {"n": 10, "seed": 2}
    assert sl.Starts(grid={"E": [1, 2]}).to_dict() == {
        "grid": {"E": [1.0, 2.0]},
        "prune": True,
    }


def test_auto_forwards_the_values(frame: pd.DataFrame) -> None:
    f = sl.fit(
        frame, "auto", candidates=["power", "m2"], bootstrap=sl.Bootstrap(10, seed=0)
    )
    assert f.options["bootstrap"] == 10 and f.draws is not None and len(f.draws) == 10
