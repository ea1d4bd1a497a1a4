"""Labelled worlds to measure the shipped pack on, written apart from the project's own simulator."""
