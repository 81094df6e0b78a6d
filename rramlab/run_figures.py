"""The key figures of a run, per protocol: a few lines computed from its rows that say
how it went (cells formed, switching voltages, cells inside tolerance, drift...).

``rramlab run`` prints them when a run completes and ``rramlab show`` with a run's
metadata. From Python::

    data, meta = rramlab.load_run(path)
    key_figures(meta["protocol"], data)  # [("cells formed", "2 of 2"), ...] or None
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Figures = list[tuple[str, str]]  # (figure, value as text), in the order to show them


def key_figures(protocol: str, data: Any) -> Figures | None:
    """The key figures of a run of ``protocol`` from its rows (a DataFrame), or None if
    the protocol has none (see :data:`KEY_FIGURES`), there are no rows, or the rows do
    not give them."""
    describe = KEY_FIGURES.get(protocol)
    if describe is None or data.empty:
        return None
    try:
        return describe(data)
    except (KeyError, ValueError, TypeError, ZeroDivisionError):  # rows of an odd shape
        return None


def _us(g_S: float) -> str:
    return "-" if g_S != g_S else f"{g_S * 1e6:.3g} uS"


def _volts(v: float) -> str:
    return "-" if v != v else f"{v:.3g} V"


def _of(part: int, whole: int) -> str:
    return f"{part} of {whole}"


def _per_cell_last(data: Any) -> Any:
    return data.groupby(["row", "col"]).tail(1)


def _forming(d: Any) -> Figures:
    last = _per_cell_last(d)
    formed = last[last["formed"].astype(bool)]
    return [
        ("cells formed", _of(len(formed), len(last))),
        ("median forming voltage", _volts(formed["v_pulse_V"].median())),
        ("median compliance", f"{formed['i_compliance_A'].median() * 1e6:.3g} uA"),
        ("median g after forming", _us(formed["g_read_S"].median())),
    ]


def _switching(d: Any) -> Figures:
    cycles = d.groupby(["row", "col", "cycle"])[["v_set_V", "v_reset_V"]].first()
    return [
        ("cycles", str(len(cycles))),
        ("SET detected", _of(int(cycles["v_set_V"].notna().sum()), len(cycles))),
        ("median SET voltage", _volts(cycles["v_set_V"].median())),
        ("RESET detected", _of(int(cycles["v_reset_V"].notna().sum()), len(cycles))),
        ("median RESET voltage", _volts(cycles["v_reset_V"].median())),
    ]


def _pulse(d: Any) -> Figures:
    reads = d.dropna(subset=["g_read_S"]).groupby(["row", "col"])["g_read_S"]
    return [
        ("cells", str(reads.ngroups)),
        ("pulses per cell", str(int(d["pulse"].max()))),
        ("median g before the first pulse", _us(reads.first().median())),
        ("median g after the last pulse", _us(reads.last().median())),
    ]


def _write_verify(d: Any) -> Figures:
    final = d[d["final"].astype(bool)]
    return [
        ("cells inside the band", _of(int(final["inside"].sum()), len(final))),
        ("median pulses", f"{final['iteration'].median():.3g}"),
        ("median |error|", f"{final['error_rel'].abs().median():.2%}"),
    ]


def _program_levels(d: Any) -> Figures:
    error = (d["g_S"] / d["g_target_S"] - 1).abs()
    return [
        ("cells inside tolerance", _of(int(d["inside_tolerance"].sum()), len(d))),
        ("levels", str(d["level"].nunique())),
        ("median pulses", f"{d['pulses'].median():.3g}"),
        ("median |error|", f"{error.median():.2%}"),
    ]


def _read_map(d: Any) -> Figures:
    g = d.groupby(["row", "col"])["g_S"].mean()
    return [
        ("cells", str(len(g))),
        ("reads per cell", str(d["read"].nunique())),
        ("median g", _us(g.median())),
        ("min / max g", f"{_us(g.min())} / {_us(g.max())}"),
        ("saturated reads (NaN)", str(int(d["g_S"].isna().sum()))),
    ]


def _drift(d: Any, x: str, what: str) -> Figures:
    """Median relative change of each cell's g from the first to the last ``x``."""
    first = d[d[x] == d[x].min()].set_index(["row", "col"])["g_S"]
    last = d[d[x] == d[x].max()].set_index(["row", "col"])["g_S"]
    change = (last / first.where(first > 0) - 1).dropna()
    return [
        ("cells", str(len(first))),
        (what, f"{d[x].max():.4g}"),
        ("median change of g", f"{change.median():+.2%}" if len(change) else "-"),
    ]


def _endurance(d: Any) -> Figures:
    last = _per_cell_last(d)
    return [
        ("cells", str(len(last))),
        ("last verified cycle", str(int(d["cycle"].max()))),
        ("cells failed", _of(int(last["failed"].sum()), len(last))),
        ("median last window", f"{last['window'].median():.3g}"),
    ]


def _variability(d: Any) -> Figures:
    summary = d[d["kind"] == "summary"].set_index("state")
    rows = []
    for state in ("lrs", "hrs"):
        s = summary.loc[state]
        rows.append(
            (
                f"{state.upper()} median g, d2d / c2c sigma (ln)",
                f"{_us(s['g_median_S'])}, {s['d2d_sigma_ln']:.3g} / {s['c2c_sigma_ln']:.3g}",
            )
        )
    return rows


# protocol -> its key figures from its rows (may raise on rows of an odd shape)
KEY_FIGURES: dict[str, Callable[[Any], Figures]] = {
    "forming": _forming,
    "iv-sweep": _switching,
    "switch-seeker": _switching,
    "pulse": _pulse,
    "write-verify": _write_verify,
    "program-levels": _program_levels,
    "read-map": _read_map,
    "retention": lambda d: _drift(d, "t_s", "last read at t (s)"),
    "read-disturb": lambda d: _drift(d, "read_count", "reads"),
    "endurance": _endurance,
    "variability": _variability,
}
