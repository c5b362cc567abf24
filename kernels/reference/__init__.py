"""Pure-torch references of every kernel op, used by tests and benchmarks only."""
