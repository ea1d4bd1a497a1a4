"""Journeys (customers walked up a ladder over weeks) and community health (groups kept alive)."""
