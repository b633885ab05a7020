"""Execution: run programs against tests in a sandbox, per-test outcomes."""
