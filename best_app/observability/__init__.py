"""Logs, access lines and Prometheus metrics."""
