"""Simulated instrument personalities (each model's command set on its channels)."""
