"""Seeded, labelled event logs of the studio's honest parents and of injected abuse."""
