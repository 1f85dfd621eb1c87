"""Command-line entry point: train, evaluate, predict, download, bench (depends on the core, never on the GUI at import time)."""
