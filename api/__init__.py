"""The yutang HTTP service: scoring, outcomes, lists, contacts and rule administration."""
