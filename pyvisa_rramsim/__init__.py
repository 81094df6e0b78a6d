"""pyvisa backend for the simulated rramlab bench: ``pyvisa.ResourceManager("@rramsim")``.

pyvisa resolves ``@rramsim`` by importing this module and using ``WRAPPER_CLASS``.
"""

from rramlab.sim.visa_backend import RramsimVisaLibrary as WRAPPER_CLASS

__all__ = ["WRAPPER_CLASS"]
