"""``python -m rramlab`` is the ``rramlab`` command."""

from rramlab.cli import main

main()
