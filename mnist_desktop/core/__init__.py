"""The pure core: datasets, preprocessing, Haiku models, Optax training, checkpoints, CLI.

Nothing under this package may import Qt (a test enforces it), so every piece can
be driven headless: by the CLI, by the tests, and by the GUI's worker thread.
"""
