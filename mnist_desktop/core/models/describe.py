"""What a model *is*, in words: which dataset it learnt and whether it reads digits.

Why: a Fashion-MNIST model shown a drawn 7 answers "Coat (71 %)", and
``evaluate --dataset mnist-subset`` printed its rows with digit names -- both
without a word that the model has never seen a digit. Every place that shows
a model's answer (predict, evaluate, the GUI) asks here how to name it.
"""

from __future__ import annotations

from typing import Any, Sequence

from mnist_desktop.core.honest_output import terminal_safe

DIGIT_NAMES = tuple(str(d) for d in range(10))
_TITLES = {"mnist": "MNIST", "mnist-subset": "MNIST", "fashion-mnist": "Fashion-MNIST",
           "pendigits": "Pendigits"}


def is_digit_model(class_names: Sequence[str]) -> bool:
    """A model reads digits when its ten classes are the digits 0-9."""
    return tuple(str(n) for n in class_names) == DIGIT_NAMES


def dataset_title(dataset: Any) -> str:
    """'Fashion-MNIST' for 'fashion-mnist'; an unknown name is shown as given (made safe)."""
    name = str(dataset or "")
    return _TITLES.get(name, terminal_safe(name, 40) or "unknown dataset")


def not_digit_note(class_names: Sequence[str], dataset: Any) -> str:
    """'' for digit models, else one sentence saying what the model does read."""
    if is_digit_model(class_names):
        return ""
    sample = ", ".join(terminal_safe(n, 24) for n in list(class_names)[:3])
    return (f"note: this is a {dataset_title(dataset)} model (classes {sample}, …), not a digit model; "
            "its answers for digits mean nothing")


def answer_text(class_names: Sequence[str], dataset: Any, label: int, confidence: float) -> str:
    """'7 (98.2%)' for a digit model, 'Fashion-MNIST model: Coat (71.0%)' otherwise."""
    name = terminal_safe(class_names[label], 64)
    core = f"{name} ({confidence:.1%})"
    return core if is_digit_model(class_names) else f"{dataset_title(dataset)} model: {core}"


def class_set_mismatch(model_classes: Sequence[str], model_dataset: Any,
                       data_classes: Sequence[str], data_name: str) -> str:
    """'' when the model's classes are the dataset's, else why evaluating makes no sense."""
    if tuple(map(str, model_classes)) == tuple(map(str, data_classes)):
        return ""
    return (f"the model was trained on {dataset_title(model_dataset)} "
            f"({', '.join(terminal_safe(n, 24) for n in list(model_classes)[:3])}, …) but {data_name} has the classes "
            f"{', '.join(terminal_safe(n, 24) for n in list(data_classes)[:3])}, …; accuracy across different class "
            f"sets means nothing. Evaluate it on its own dataset (--dataset {terminal_safe(model_dataset, 40)}), "
            "or pass --allow-mismatch to see the numbers anyway")
