"""What ``rramlab solve`` and ``rramlab mimo`` share in their output: values made
JSON-ready and errors put on one line."""

from __future__ import annotations

import json
import math
from typing import Any

import click
import numpy as np


class Failure(click.ClickException):
    """The computation or the bench failed (exit code 1): one line, no traceback."""

    exit_code = 1


def json_ready(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither) and numpy scalars
    and arrays as Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any) -> str:
    """One line of strict JSON (no NaN) for ``value``."""
    return json.dumps(json_ready(value), allow_nan=False)


def one_line(error: BaseException) -> str:
    """An error's message on one line (its class name if it has none)."""
    return " ".join(str(error).split()) or type(error).__name__
