"""The simulated bench (rramlab.sim): the numpy crossbar model and, later, the
simulated instruments that expose it through real transports."""
