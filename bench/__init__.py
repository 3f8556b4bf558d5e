"""Benchmarks: speed measured against a baseline taken in the same run, printed as ratios.

Run with ``make bench``; never part of the tests (these machines are too noisy to assert time).
"""
