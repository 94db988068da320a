"""Benchmarks of wisgate_nb against what users would use instead, measured in the same run.

``python -m benchmarks`` (or ``python benchmarks/run.py``) starts the demo server on loopback in
its own process, runs B1..B9, prints a table of medians and ratios and writes ``out/results.json``
(git-ignored; ``--publish`` writes the tracked ``results.json`` the README quotes).
``--quick`` runs every benchmark once or twice with shorter latencies: a smoke run, not numbers.
"""
