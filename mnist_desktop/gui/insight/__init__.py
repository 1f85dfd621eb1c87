"""Look inside a model: learned weights, activations, saliency, evaluation, datasets,
the map of the test digits, the step-through of the forward pass and the fool-it lab.

Each view is an :class:`~.panel.InsightPanel` built from the model session (and
the run controller) by ``gui/docks.py``; views that talk to the worker have
``attach_worker``. Shared pieces: ``colours`` (colour maps), ``panel`` (the
explained, exportable view), ``pictures`` (thumbnails and PNG export),
``mosaic_view`` and ``matrix_view`` (pyqtgraph pictures), ``splitter``.
"""
