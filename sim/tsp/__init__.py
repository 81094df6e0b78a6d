"""TSP (Keithley 2600B Lua dialect) interpreter of the simulated instruments.

The language: :mod:`lexer` -> :mod:`parser` (:mod:`nodes`) -> :mod:`interpreter`, with
values in :mod:`values`, operators in :mod:`operators`, the Lua libraries in
:mod:`stdlib`/:mod:`strlib`, and errors/error queue in :mod:`errors`. Python objects
reach TSP only through :mod:`objects` (named members, nothing else).

The instrument: :mod:`session` (messages, scripts, common commands, output queue),
:mod:`output` (``print``, ``printbuffer``, ``format``), and the 2600B objects:
:mod:`smu` (``smua``), :mod:`buffers`, :mod:`trigger`, :mod:`factory` (KISweep,
KIPulse), :mod:`status`, :mod:`panel`, :mod:`timing` (command time, ``delay``).
"""
