"""mnist_desktop: draw a digit, watch a JAX model read it, train and inspect models.

The package has two layers: :mod:`mnist_desktop.core` (pure Python + JAX, never
imports Qt, so it runs headless in the CLI and in tests) and
:mod:`mnist_desktop.gui` (the PySide6 shell that only renders and forwards intent).
"""

__version__ = "0.1.0"
