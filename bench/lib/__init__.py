"""What the benchmarks share: options, the machine, statistics, reports, wrk, data, servers and processes.

Each module holds one concern (see the "Layout" section of bench/README.md);
the scripts in ``bench/`` keep their arguments, their phases and their tables.
Only the benchmarks and the tests' process harness import this package; the
project's own code never does.
"""
