"""Benchmarks for overheard: run on demand (`make bench` or `python -m benchmarks`), never as timed tests.

Each benchmark prints its figures, the machine it ran on and the command that reruns it.
"""
