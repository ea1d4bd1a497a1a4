"""Feature declarations (spec) and the Redis feature store that computes them."""
