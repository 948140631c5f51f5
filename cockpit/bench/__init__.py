"""Regression benchmarks: samples per runtime, the decision rule, shadow re-runs, reports."""
