"""Measurement protocols (rramlab.protocols): what an experiment does."""
