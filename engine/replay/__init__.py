"""Replay a recorded or simulated event log through a rule set on a fresh feature store."""
