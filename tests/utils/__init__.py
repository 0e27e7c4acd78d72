"""Helpers shared by the tests: databases, problem assertions, a real server."""
