"""Evaluation: pass rate, strict accuracy, unbiased pass@k."""
