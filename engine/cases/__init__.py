"""Review cases: one per actor, opened by a ``review`` decision, decided once by a person or a timeout."""
