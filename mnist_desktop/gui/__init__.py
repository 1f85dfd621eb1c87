"""The PySide6 shell: widgets that render state and forward the user's intent.

Nothing here computes anything a test of the core could not check headless.
The main window builds a :class:`~.model_session.ModelSession` (the active
model, the drawing's model input, the latest prediction, the canvas API) and a
:class:`~.run_controller.RunController` (training runs, answered on handles)
and hands them to every dock; only ``app`` and ``docks`` know the window.
"""
