"""The PySide6 shell: widgets that render state and forward the user's intent.

Nothing here computes anything a test of the core could not check headless:
widgets take and emit plain numpy arrays, and the main window wires them to
:mod:`mnist_desktop.core` (preprocessing, models, training). Keeping the maths
out of Qt is what lets the CLI and the test-suite run without a display.
"""
