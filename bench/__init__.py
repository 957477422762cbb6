"""Benchmark of the config stream: the core agent beside a minimal floor server, in one run.

Run it with ``make bench`` (``python -m bench``); ``python -m bench --help`` lists the options.
"""
