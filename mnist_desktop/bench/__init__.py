"""Benchmarks and GUI probes (entry points that depend on both the core and the GUI)."""
