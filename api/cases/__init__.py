"""The review queue's routes, the decisions' actions and their timeouts."""
