"""Exceptions that rramlab raises on purpose.

Wrong arguments raise the built-in ``ValueError``/``TypeError`` with a message naming
the argument; the classes here describe conditions of the bench or the physics.
"""


class RramlabError(Exception):
    """Base class of every rramlab-specific error."""


class ConvergenceError(RramlabError):
    """An iterative solve (circuit network, refinement loop) did not converge."""


class InstabilityError(RramlabError):
    """A closed-loop circuit would not settle (e.g. the INV circuit's eigenvalue condition)."""
