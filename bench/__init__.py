"""Benchmarks: subjects measured against baselines in the same run (see bench/README.md)."""
