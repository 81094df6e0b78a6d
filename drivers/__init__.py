"""Instrument drivers (rramlab.drivers): what each instrument understands."""
