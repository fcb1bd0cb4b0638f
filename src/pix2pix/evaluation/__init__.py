"""Metrics, result pages and run reports."""
