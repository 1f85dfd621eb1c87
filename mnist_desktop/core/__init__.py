"""The pure core: data, models, training, analysis, the person's handwriting; plain numpy in and out.

Nothing under this package may import Qt, the GUI, the CLI or the bench, not even
lazily (``lint-imports`` checks the contracts in pyproject.toml), so every piece
can be driven headless: by the CLI, by the tests, and by the GUI's worker thread.
"""
