"""Helpers for the tests that drive the simulated SCPI SMUs (2450, B2902A) with plain
strings. They are fixtures because test modules cannot import one another under
``--import-mode=importlib``: ``ask``, ``errors``, ``numbers`` and ``expected_current``
each hand a test the function of that name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rramlab.sim.cell import cell_current
from rramlab.sim.crossbar import Crossbar


def _ask(smu, message: str) -> str:
    smu.write(message)
    response = smu.read()
    assert response is not None, f"no response to {message!r}"
    return response


def _errors(smu) -> list[int]:
    codes = []
    while (code := int(_ask(smu, ":SYST:ERR?").split(",")[0])) != 0:
        codes.append(code)
    return codes


def _numbers(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def _expected_current(array: Crossbar, v: float, row: int = 0, col: int = 0) -> float:
    return float(cell_current(array.conductance_S[row, col], v, array.params))


@pytest.fixture
def ask() -> Callable[[object, str], str]:
    """``ask(smu, message)``: write ``message``, return the response it must produce."""
    return _ask


@pytest.fixture
def errors() -> Callable[[object], list[int]]:
    """``errors(smu)``: every queued error code (``:SYST:ERR?``), oldest first."""
    return _errors


@pytest.fixture
def numbers() -> Callable[[str], list[float]]:
    """``numbers(text)``: a comma-separated reply as floats."""
    return _numbers


@pytest.fixture
def expected_current() -> Callable[..., float]:
    """``expected_current(array, v, row=0, col=0)``: the model's current (A) through
    cell (row, col) at ``v`` volts."""
    return _expected_current
