"""Simulated array board: firmware speaking docs/board-protocol.md on the crossbar.

Modules, one job each:

- :mod:`~rramlab.sim.board.capabilities`: the board's datasheet (ranges, limits, timing)
- :mod:`~rramlab.sim.board.converters`: DAC/ADC quantisation and clipping
- :mod:`~rramlab.sim.board.framing`: byte stream -> command lines and CRC-checked blocks
- :mod:`~rramlab.sim.board.commands`: the command table and argument parsing
- :mod:`~rramlab.sim.board.tile_ops`: one tile behind its converters, with timing
- :mod:`~rramlab.sim.board.firmware`: the state machine and dispatch
- :mod:`~rramlab.sim.board.operations`: PULSE, READ, MVM, INV, WV
- :mod:`~rramlab.sim.board.write_verify`: the on-board write-verify loop
- :mod:`~rramlab.sim.board.session`: one connection's framing, under the bench lock

Transports: :mod:`rramlab.sim.protocol_rramsim` (pyserial ``rramsim://``, in-process)
and :mod:`rramlab.sim.board_server` (TCP, pyserial ``socket://``).
"""
