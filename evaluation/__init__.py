"""Evaluations on public data sets (MovieLens), beside the benchmarks: the project's models on
a standard protocol, printed beside published numbers. Nothing in the product imports this."""
