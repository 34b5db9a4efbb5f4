"""Shared fixtures for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

GOLDEN_DATA = Path(__file__).resolve().parent / "data"
GOLDEN_FIXTURES = ("golden_data", "shared_data")


@pytest.fixture(scope="session")
def golden_data() -> Path:
    """The folder of real scaling-law data that ships with the tests (``tests/data``)."""
    return GOLDEN_DATA


@pytest.fixture(scope="session")
def shared_data(golden_data: Path) -> Path:
    """The same folder, under the name older tests use."""
    return golden_data


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reads the golden data is a golden test: ``pytest -m golden``."""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in GOLDEN_FIXTURES):
            item.add_marker(pytest.mark.golden)
