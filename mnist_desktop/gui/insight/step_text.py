"""The sentences and sums the step-through pages print, from a ``core.analysis.stepthrough.Page``.

Kept apart from the widgets so each page's wording is in one place and tests
can read it. Every number comes from the page (the model's own values); this
module only formats them.
"""

from __future__ import annotations

import html
import math

import numpy as np


def num(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}".replace("+", "+\u2009").replace("-", "−\u2009")


def grid_shape(size: int) -> tuple[int, int]:
    """Rows × columns to lay ``size`` units out as a near-square grid (784 → 28×28)."""
    rows = int(math.sqrt(size))
    while size % rows:
        rows -= 1
    return (rows, size // rows) if size // rows <= 4 * rows else (int(math.ceil(size / math.ceil(math.sqrt(size)))), int(math.ceil(math.sqrt(size))))


def unit_names(count: int, class_names: list[str] | None, is_logits: bool) -> list[str]:
    if is_logits and class_names and len(class_names) == count:
        return [f"“{name}”" for name in class_names]
    return [f"unit {i}" for i in range(count)]


def conv_text(page, input_channel: int) -> str:
    cell, op = page.detail, page.stage.op
    kh, kw, cin = cell.kernel.shape
    where = f"row {cell.row}, column {cell.col} of output channel {cell.channel}"
    lines = [f"<b>{html.escape(page.stage.title)}</b>: the kernel (a {kh}×{kw}×{cin} block of weights) slides over the "
             f"input {op.stride} pixel{'s' if op.stride > 1 else ''} at a time; at each stop it multiplies the window "
             "under it by its weights and adds everything up.",
             f"Now at {where}: window from input pixel ({cell.origin[0]}, {cell.origin[1]})."]
    if cin == 1:
        lines.append(f"Σ window × kernel = {num(float(cell.products.sum()))} (the {kh * kw} products in the middle)")
    else:
        order = np.argsort(-np.abs(cell.per_input_channel))[:5]
        parts = ", ".join(f"ch {int(i)}: {num(float(cell.per_input_channel[i]))}" for i in order)
        rest = float(cell.per_input_channel.sum() - cell.per_input_channel[order].sum())
        lines.append(f"Σ over the {cin} input channels of their {kh}×{kw} products: {parts}, the other {cin - len(order)}: "
                     f"{num(rest)}; shown: channel {input_channel}")
    lines.append(f"+ bias {num(cell.bias)} = <b>{num(cell.total)}</b>"
                 + (" → the ReLU on the next page keeps it" if cell.total > 0 else " → the ReLU on the next page makes it 0"))
    return "<br>".join(lines)


def relu_text(page) -> str:
    before, after = page.stage.input, page.stage.output
    zeroed = int((before < 0).sum())
    return (f"<b>{html.escape(page.stage.title)}</b>: each number that is below 0 is replaced by 0, the rest pass "
            f"unchanged. Here {zeroed:,} of {before.size:,} numbers ({zeroed / max(before.size, 1):.0%}) were negative. "
            f"Without this step, layers of weighted sums would add up to just one weighted sum. "
            f"Selected: {num(float(before[page.cell]))} → <b>{num(float(after[page.cell]))}</b>")


def pool_text(page) -> str:
    cell, s = page.detail, page.stage.op.size
    values = ", ".join(num(float(v), 2) for v in cell.window.ravel())
    return (f"<b>{html.escape(page.stage.title)}</b>: each {s}×{s} window of a channel is replaced by its largest "
            f"number, halving the map's width and height: small shifts of the digit barely change the result.<br>"
            f"Channel {cell.channel}, output ({cell.row}, {cell.col}): max({values}) = <b>{num(cell.value, 2)}</b>")


def flatten_text(page) -> str:
    shape = "×".join(str(d) for d in page.stage.input.shape)
    return (f"<b>{html.escape(page.stage.title)}</b>: the {shape} maps are read row by row into one list of "
            f"{page.stage.output.size:,} numbers, so a dense layer can weigh every one of them. Nothing is computed.")


def dense_text(page, names: list[str], input_names: list[str] | None = None) -> str:
    unit = page.detail
    n_in = unit.inputs.size
    what = "pixel" if n_in == 784 else "unit"
    head = (f"<b>{html.escape(page.stage.title)}</b>: every output is a weighted sum of all {n_in:,} inputs plus a "
            f"bias. {names[unit.unit]} = Σ input × weight + bias. The largest contributions:")
    rows = []
    for i in unit.top:
        i = int(i)
        label = input_names[i] if input_names else (f"pixel ({i // 28}, {i % 28})" if n_in == 784 else f"{what} {i}")
        rows.append(f"&nbsp;&nbsp;{label}: {num(float(unit.inputs[i]), 2)} × {num(float(unit.weights[i]), 3)} = "
                    f"{num(float(unit.contributions[i]))}")
    tail = (f"&nbsp;&nbsp;the other {n_in - len(unit.top):,}: {num(unit.rest)}, bias {num(unit.bias)}<br>"
            f"= <b>{num(unit.total)}</b>")
    return "<br>".join([head, *rows, tail])


def template_text(page, names: list[str]) -> str:
    unit = page.detail
    return (f"<b>Template × pixels = score</b>: logistic regression keeps one 28×28 template of weights per class "
            f"(red where ink raises the score, blue where it lowers it). Each class's score is the sum of template × "
            f"pixels plus a bias; the highest score wins. {names[unit.unit]}: Σ = {num(unit.total - unit.bias)}, "
            f"+ bias {num(unit.bias)} = <b>{num(unit.total)}</b>")


def softmax_text(page, names: list[str]) -> str:
    logits, probs, t = page.stage.input, page.probabilities, page.temperature
    z = logits / t
    denom = float(np.exp(z - z.max()).sum())
    order = np.argsort(-probs)[:3]
    parts = "<br>".join(
        f"&nbsp;&nbsp;{names[int(i)]}: e<sup>({num(float(logits[i]), 2)} − max)/{t:.2f}</sup> / {denom:.3f} = "
        f"<b>{probs[i]:.1%}</b>" for i in order)
    return (f"<b>{html.escape(page.stage.title)}</b>: p = e<sup>score/T</sup> / Σ e<sup>score/T</sup> turns the scores "
            f"into probabilities that add up to 1. The temperature T = {t:.2f}: below 1 sharpens (the top class takes "
            f"more), above 1 flattens (the model looks less sure); the ranking never changes. (The model itself uses "
            f"T = 1.)<br>{parts}")
