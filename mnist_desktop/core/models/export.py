"""Export a model for other programs: ONNX (graph + weights) and safetensors (weights).

ONNX is written directly with the ``onnx`` package's helper API, one node group
per spec layer, instead of through a tracing converter. Why: every network here
is an :class:`~mnist_desktop.core.models.spec.Architecture` of ten layer types,
each of which maps onto one or two standard ONNX operators, so the writer is
short, exact and instant. jax2onnx 0.17.1 (the maintained converter) does work
with JAX 0.10.2 — its CNN matched to 1e-6 — but it pulls ~200 MB of packages
(flax, equinox, orbax, huggingface-hub, netron, ...) into an optional extra and
took ~60 s to convert the 150 k-parameter CNN on this 2-core machine (measured,
shared), against milliseconds here; and its graph names nodes after JAX
primitives, not after the layers a person built.

The graph takes what the app's networks take — ``image``: ``(N, 28, 28, 1)``
float32 in [0, 1], white ink on black, centred like MNIST — and returns
``logits``: ``(N, 10)``. Convolutions run in ONNX's NCHW layout; the tensor is
transposed back to NHWC before a flatten so the dense weights see Haiku's
element order.

safetensors is written by hand (an 8-byte header length, a JSON header, the raw
little-endian arrays — the whole format), so the weights export needs no package
at all; the tests read the file back with the ``safetensors`` package.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.fileio import atomic_write_bytes
from mnist_desktop.core.models.spec import ACTIVATIONS, NUM_CLASSES, architecture_of, module_names

FORMATS = ("onnx", "safetensors")
OPSET = 17  # LayerNormalization is standard from 17; onnxruntime ≥ 1.12 runs it
MISSING_EXTRA = ("ONNX export needs the 'onnx' package, which the default install leaves out: "
                 "pip install 'mnist-desktop[export]' (or pip install onnx)")


class ExportError(MnistDesktopError):
    """The export cannot be written (missing package, unwritable target)."""


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ExportError(MISSING_EXTRA) from None
    return onnx, TensorProto, helper, numpy_helper


def export_available(fmt: str) -> str | None:
    """None when ``fmt`` can be written here, else the sentence saying what to install."""
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            return MISSING_EXTRA
    return None


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """XLA's SAME padding along one axis: the odd pixel goes after, as in ONNX SAME_UPPER."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _Graph:
    """Collects nodes and initializers; ``add`` returns the new tensor's name."""

    def __init__(self, helper: Any, numpy_helper: Any):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def add(self, op: str, inputs: list[str], name: str, output: str | None = None, **attrs: Any) -> str:
        self._count += 1
        out = output or f"{name}_{op.lower()}_{self._count}"
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=f"{name}/{op}_{self._count}", **attrs))
        return out


def _gelu(g: _Graph, x: str, name: str) -> str:
    """jax.nn.gelu's default tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in opset-17 ops."""
    f = lambda n, v: g.const(f"{name}/{n}", np.array(v, np.float32))  # noqa: E731
    cube = g.add("Mul", [g.add("Mul", [x, x], name), x], name)
    inner = g.add("Mul", [g.add("Add", [x, g.add("Mul", [cube, f("c", 0.044715)], name)], name),
                          f("k", math.sqrt(2 / math.pi))], name)
    return g.add("Mul", [g.add("Mul", [x, f("half", 0.5)], name),
                         g.add("Add", [g.add("Tanh", [inner], name), f("one", 1.0)], name)], name)


def onnx_model(model_name: str, params: Mapping[str, Mapping[str, Any]], metadata: Mapping[str, str] | None = None):
    """The ``onnx.ModelProto`` of ``model_name`` with ``params`` (checked with onnx.checker)."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    arch, preset = architecture_of(model_name)
    names = module_names(arch, preset)
    p = {m: {k: np.asarray(v, np.float32) for k, v in group.items()} for m, group in params.items()}
    g = _Graph(helper, numpy_helper)
    x, layout, shape = "image", "nhwc", [28, 28, 1]  # shape: H, W, C while image-shaped

    def to(target: str, h: str, name: str) -> str:
        nonlocal layout
        if layout == target:
            return h
        layout = target
        return g.add("Transpose", [h], name, perm=[0, 3, 1, 2] if target == "nchw" else [0, 2, 3, 1])

    def flat(h: str, name: str) -> str:
        nonlocal layout
        if layout == "flat":
            return h
        h = to("nhwc", h, name)
        layout = "flat"
        return g.add("Flatten", [h], name, axis=1)

    def dense(h: str, name: str) -> str:
        h = flat(h, name)
        return g.add("Gemm", [h, g.const(f"{name}/w", p[name]["w"]), g.const(f"{name}/b", p[name]["b"])], name)

    for i, (layer, name) in enumerate(zip(arch.layers, names)):
        kind, label = layer.kind, name or f"layer{i + 1}_{layer.kind}"
        if kind == "conv":
            k, s = layer.get("kernel"), layer.get("stride")
            if layer.get("padding") == "same":
                (t, b), (l, r) = _same_pads(shape[0], k, s), _same_pads(shape[1], k, s)
                pads = [t, l, b, r]
                shape = [math.ceil(shape[0] / s), math.ceil(shape[1] / s), layer.get("channels")]
            else:
                pads = [0, 0, 0, 0]
                shape = [(shape[0] - k) // s + 1, (shape[1] - k) // s + 1, layer.get("channels")]
            w = np.transpose(p[name]["w"], (3, 2, 0, 1))  # Haiku HWIO → ONNX OIHW
            x = g.add("Conv", [to("nchw", x, label), g.const(f"{name}/w", w), g.const(f"{name}/b", p[name]["b"])],
                      label, kernel_shape=[k, k], strides=[s, s], pads=pads)
        elif kind in ("maxpool", "avgpool"):
            size = layer.get("size")
            shape = [shape[0] // size, shape[1] // size, shape[2]]
            x = g.add("MaxPool" if kind == "maxpool" else "AveragePool", [to("nchw", x, label)], label,
                      kernel_shape=[size, size], strides=[size, size])
        elif kind == "flatten":
            x = flat(x, label)
        elif kind == "dense":
            x = dense(x, name)
        elif kind in ACTIVATIONS:
            x = _gelu(g, x, label) if kind == "gelu" else g.add({"relu": "Relu", "tanh": "Tanh"}[kind], [x], label)
        elif kind == "layernorm":  # Haiku normalises the last axis (channels): NHWC for image-shaped tensors
            x = x if layout == "flat" else to("nhwc", x, label)
            x = g.add("LayerNormalization", [x, g.const(f"{name}/scale", p[name]["scale"]),
                                             g.const(f"{name}/offset", p[name]["offset"])], label, axis=-1, epsilon=1e-5)
        # dropout: identity outside training
    out = dense(x, names[-1])
    g.nodes.append(helper.make_node("Identity", [out], ["logits"], name="logits"))
    graph = helper.make_graph(
        g.nodes, "mnist_desktop",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NUM_CLASSES])],
        g.initializers,
    )
    model = helper.make_model(graph, producer_name="mnist-desktop", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by onnxruntime ≥ 1.10
    model.doc_string = ("Input 'image': (N, 28, 28, 1) float32 in [0, 1], white ink on black, centred like MNIST. "
                        "Output 'logits': (N, 10); softmax gives the class probabilities.")
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=str(key), value=str(value)))
    onnx.checker.check_model(model)
    return model


def export_metadata(model_name: str, class_names: list[str] | tuple[str, ...], dataset: str) -> dict[str, str]:
    """String metadata stored in both formats: what the model is and what it expects."""
    arch = architecture_of(model_name)[0]
    return {"model": model_name, "architecture": json.dumps(arch.to_json()), "dataset": dataset,
            "class_names": json.dumps(list(class_names)), "input": "N×28×28×1 float32 in [0, 1], white ink on black"}


def write_onnx(path: str | os.PathLike, model_name: str, params: Mapping[str, Mapping[str, Any]],
               metadata: Mapping[str, str] | None = None) -> Path:
    """Write the ONNX file atomically; return its path."""
    data = onnx_model(model_name, params, metadata).SerializeToString()
    return _write(Path(path), data)


def safetensors_bytes(params: Mapping[str, Mapping[str, Any]], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors encoding of ``params``: tensors named ``module/param``, float32, sorted."""
    header: dict[str, Any] = {"__metadata__": {str(k): str(v) for k, v in (metadata or {}).items()}}
    blobs, offset = [], 0
    for module in sorted(params):
        for name in sorted(params[module]):
            array = np.ascontiguousarray(np.asarray(params[module][name], "<f4"))
            raw = array.tobytes()
            header[f"{module}/{name}"] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
            blobs.append(raw)
            offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data start 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def write_safetensors(path: str | os.PathLike, params: Mapping[str, Mapping[str, Any]],
                      metadata: Mapping[str, str] | None = None) -> Path:
    """Write the weights as a safetensors file atomically; return its path."""
    return _write(Path(path), safetensors_bytes(params, metadata))


def _write(target: Path, data: bytes) -> Path:
    check_target(target)
    try:
        atomic_write_bytes(target, data)
    except OSError as err:
        raise ExportError(f"could not write {target}: {err.strerror or err}. Choose a folder you can write to; "
                          "any earlier file there is unchanged.") from err
    return target


def check_target(path: str | os.PathLike) -> Path:
    """Refuse a target that cannot work before any export work is done."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{target} is a folder; give a file name such as {target / 'model.onnx'}")
    if not target.parent.is_dir():
        raise ExportError(f"the folder {target.parent} does not exist; create it or choose another")
    return target


def check_digits(count: int = 100) -> np.ndarray:
    """The first ``count`` test digits of the bundled subset, as the models take them."""
    from mnist_desktop.core.data.datasets import load_dataset, to_model_array

    return to_model_array(load_dataset("mnist-subset").test_images[:count])


def export_model(model_name: str, params: Any, fmt: str, path: str | os.PathLike, *,
                 class_names: Any = None, dataset: str = "mnist", check: bool = True) -> dict[str, Any]:
    """Write ``fmt`` to ``path`` and, for ONNX, compare onnxruntime with the app on 100 test digits.

    Returns a plain report (path, bytes, timings, the largest logit difference and
    how many predictions agree) for the CLI to print and the GUI to show.
    """
    import time

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    target = check_target(path)
    names = list(class_names or [str(i) for i in range(NUM_CLASSES)])
    meta = export_metadata(model_name, names, dataset)
    start = time.perf_counter()
    if fmt == "onnx":
        write_onnx(target, model_name, params, meta)
    else:
        write_safetensors(target, params, meta)
    report: dict[str, Any] = {"format": fmt, "model": model_name, "path": str(target), "bytes": target.stat().st_size,
                              "write_seconds": round(time.perf_counter() - start, 4)}
    if fmt == "onnx" and check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            report["check_skipped"] = "onnxruntime is not installed (pip install onnxruntime)"
            return report
        from mnist_desktop.core.training.evaluation import batched_logits
        import onnxruntime as ort

        start = time.perf_counter()
        x = check_digits()
        session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        theirs = session.run(["logits"], {"image": x})[0]
        ours = batched_logits(model_name, params, x)
        report.update(max_abs_difference=float(np.abs(theirs - ours).max()), checked_images=len(x),
                      same_predictions=int((theirs.argmax(-1) == ours.argmax(-1)).sum()),
                      check_seconds=round(time.perf_counter() - start, 4))
    return report
