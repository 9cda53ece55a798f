"""Benchmarks for issue 6: every figure is a ratio against a baseline measured in the same run.

Run with `make bench` (or `python -m bench [--quick] [--only NAME[,NAME...]]`). Not part of the
test suite: nothing here is imported by the project's packages."""
