"""Scored events kept for export as a replay log (opt-in), and the per-rule tallies."""
