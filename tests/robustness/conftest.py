"""What the robustness tests share: hypothesis settings, and the tally of what they
tried (printed at the end of the run).

Budget: each test here has a default number of examples, chosen so the folder runs in
about a minute; ``RRAMLAB_FUZZ_EXAMPLES=N`` runs N examples per test instead.
Examples are derandomized (a CI run is reproducible); ``RRAMLAB_FUZZ_RANDOM=1`` draws
new ones each run. ``RRAMLAB_FUZZ_REPORT=path.json`` writes the tally (inputs tried per
test, by outcome) for benchmarks and the README.

Test modules cannot import one another (``--import-mode=importlib``), so they get the
settings from the hypothesis profile registered here (``settings.get_profile
("robustness")``), the tally from the ``tally`` fixture and the log of handlers that
crashed behind a safety net from the ``crashes`` fixture.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

#: what the robustness tests tried: test -> outcome -> count
_TALLY: dict[str, Counter] = defaultdict(Counter)

settings.register_profile(
    "robustness",
    deadline=None,  # the example budget bounds the time, not a per-example deadline
    database=None,  # no .hypothesis folder in the source tree
    derandomize=os.environ.get("RRAMLAB_FUZZ_RANDOM") != "1",
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    print_blob=True,
)


@pytest.fixture(scope="session")
def tally() -> dict[str, Counter]:
    """``tally[test][outcome] += 1`` for every input a robustness test tried."""
    return _TALLY


class ErrorLog(logging.Handler):
    """Records logged at ERROR or above (a handler that crashed behind a safety net)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def crashes() -> Iterator[ErrorLog]:
    """What ``rramlab`` logged at ERROR while the module's tests ran (``.records``)."""
    handler = ErrorLog()
    logger = logging.getLogger("rramlab")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def pytest_terminal_summary(terminalreporter) -> None:
    if not _TALLY:
        return
    terminalreporter.section("robustness: inputs tried")
    for test, counts in sorted(_TALLY.items()):
        detail = ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"{test}: {sum(counts.values())} ({detail})")
    report = os.environ.get("RRAMLAB_FUZZ_REPORT")
    if report:
        data = {test: dict(sorted(c.items())) for test, c in sorted(_TALLY.items())}
        Path(report).write_text(json.dumps(data, indent=2) + "\n")
