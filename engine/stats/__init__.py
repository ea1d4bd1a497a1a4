"""The protection dashboard's counters: what the engine did for a merchant, per hour of its day."""
