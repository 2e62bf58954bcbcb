"""Bare handlers that the benchmarks measure the project's handlers against."""
