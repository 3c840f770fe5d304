"""End-to-end benchmark of the wallet: ``make bench`` / ``python -m bench``.

See docs/benchmark.md for what it measures, how, and the figures on this machine.
"""
