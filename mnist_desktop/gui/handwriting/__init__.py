"""The "My handwriting" dock: collect the person's labelled drawings, measure the model on them, fine-tune.

``panel`` assembles two tabs: ``collect_tab`` (label the canvas, a guided
session from ``guided_session``, the ``gallery``) and ``results_tab`` (the
active model's accuracy on the drawings, and a fine-tune driven by
``finetune_run``). Storage is :mod:`mnist_desktop.core.handwriting.store`,
the maths :mod:`mnist_desktop.core.handwriting.finetune`.
"""
