"""Network architectures as plain data: parse, check, describe — no JAX here.

A person builds a network as a list of layers; the app keeps it as JSON
(``{"layers": [{"type": "conv", "channels": 16, ...}, ...]}``) or as one line of
text, the *compact grammar*::

    conv:CHANNELS[:KERNEL[:STRIDE[:PADDING]]]   defaults kernel 3, stride 1, padding valid
    dense:UNITS
    maxpool[:SIZE]  avgpool[:SIZE]               non-overlapping SIZE×SIZE windows (default 2)
    flatten  relu  tanh  gelu  layernorm
    dropout[:RATE]                               default 0.5; active only while training

Layers are separated by commas, e.g. ``conv:16:5:2,relu,dense:64,relu``.

Two rules keep a stack short to write and hard to get wrong:

* **The output layer is added automatically**: every network ends with a dense
  layer of one unit per class ("output"), after a flatten if needed. A stack that
  itself ends in a dense layer is refused — two linear maps in a row are one.
* **Dense layers flatten an image-shaped input themselves** (an explicit
  ``flatten`` is allowed and shows in the shapes); a conv or pool after the
  input became a vector is refused.

This module is pure Python so the editor can show shapes, parameter counts and
multiply-adds on every keystroke without loading JAX; ``networks.build_net`` turns
a checked :class:`Architecture` into a Haiku network. Caps on layers, sizes,
parameters and multiply-adds mean a typo ("dense:3000000") is refused with a
message instead of taking the machine.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mnist_desktop.core.errors import ConfigError

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
MAX_LAYERS = 24  # a checkpoint zip holds ≤ 64 entries: two arrays per weighted layer
MAX_PARAMS = 10_000_000  # 40 MB of float32; the largest preset has 0.8 M
MAX_MACS = 100_000_000  # multiply-adds per image; ~0.5 M for the fast CNN, 4.6 M for the Flax CNN
MAX_ACTIVATION = 500_000  # values one layer may output per image (×batch, ×backward in memory)
MAX_TEXT = 4000  # characters of compact text / kilobytes of JSON a spec may take
SPEC_FORMAT = "mnist-desktop-architecture"

#: layer type → its fields in compact order: (name, kind, low, high, default)
FIELDS: dict[str, tuple[tuple[str, str, float, float, Any], ...]] = {
    "dense": (("units", "int", 1, 8192, None),),
    "conv": (("channels", "int", 1, 1024, None), ("kernel", "int", 1, 28, 3),
             ("stride", "int", 1, 28, 1), ("padding", "choice", 0, 0, "valid")),
    "maxpool": (("size", "int", 2, 28, 2),),
    "avgpool": (("size", "int", 2, 28, 2),),
    "flatten": (),
    "relu": (),
    "tanh": (),
    "gelu": (),
    "dropout": (("rate", "float", 0.0, 0.95, 0.5),),
    "layernorm": (),
}
PADDINGS = ("valid", "same")
ACTIVATIONS = ("relu", "tanh", "gelu")
#: layers that keep the shape and act value by value (the activation view records through them)
ELEMENTWISE = (*ACTIVATIONS, "dropout", "layernorm")
TITLES = {"dense": "Dense", "conv": "Conv", "maxpool": "Max pool", "avgpool": "Avg pool", "flatten": "Flatten",
          "relu": "ReLU", "tanh": "tanh", "gelu": "GELU", "dropout": "Dropout", "layernorm": "Layer norm"}


class SpecError(ConfigError):
    """An architecture is invalid; ``layer`` (0-based, or None) and ``key`` say where.

    The message names both ("layer 3 (conv) kernel: 7 is larger than its 4×4 input ...")
    so a CLI user can fix a spec file from the error line alone and the editor can
    highlight the row.
    """

    def __init__(self, reason: str, layer: int | None = None, kind: str = "", key: str = ""):
        where = "architecture" if layer is None else f"layer {layer + 1}" + (f" ({kind})" if kind else "")
        super().__init__(f"{where} {key}".strip() if key else where, reason)
        self.layer, self.kind, self.key = layer, kind, key


@dataclass(frozen=True)
class Layer:
    """One layer: its type and the values of that type's :data:`FIELDS`."""

    kind: str
    values: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str) -> Any:
        return dict(self.values)[name]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, **dict(self.values)}

    def to_compact(self) -> str:
        return ":".join([self.kind, *(_format_value(v) for _, v in self.values)])

    def describe(self) -> str:
        """Short words for lists and tables ("Conv 16 · 5×5 /2 · valid": 16 channels, kernel 5, stride 2)."""
        v = dict(self.values)
        if self.kind == "conv":
            stride = f" /{v['stride']}" if v["stride"] > 1 else ""
            return f"Conv {v['channels']} · {v['kernel']}×{v['kernel']}{stride} · {v['padding']}"
        if self.kind == "dense":
            return f"Dense {v['units']}"
        if self.kind in ("maxpool", "avgpool"):
            return f"{TITLES[self.kind]} {v['size']}×{v['size']}"
        if self.kind == "dropout":
            return f"Dropout {v['rate']:g}"
        return TITLES[self.kind]


def _format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def make_layer(kind: str, **values: Any) -> Layer:
    """A checked layer of ``kind``; missing fields take their defaults (raises :class:`SpecError`)."""
    return _layer_from_mapping({"type": kind, **values}, None)


@dataclass(frozen=True)
class Architecture:
    """A stack of layers; the output layer is implied (see the module docstring)."""

    layers: tuple[Layer, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"format": SPEC_FORMAT, "version": 1, "layers": [layer.to_json() for layer in self.layers]}

    def to_compact(self) -> str:
        return ",".join(layer.to_compact() for layer in self.layers)

    @property
    def has_dropout(self) -> bool:
        return any(layer.kind == "dropout" for layer in self.layers)


# -- reading -------------------------------------------------------------------


def _check_value(spec: tuple[str, str, float, float, Any], value: Any, where: tuple[int | None, str]) -> Any:
    name, kind, low, high, _ = spec
    layer, layer_kind = where
    if kind == "choice":
        if not isinstance(value, str) or value.lower() not in PADDINGS:
            raise SpecError(f"must be one of {', '.join(PADDINGS)}, got {_show(value)}", layer, layer_kind, name)
        return value.lower()
    # bool is an int subclass in Python and JSON true would read as 1: refuse it explicitly
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"must be a number, got {_show(value)}", layer, layer_kind, name)
    if not math.isfinite(value):
        raise SpecError(f"must be a finite number, got {_show(value)}", layer, layer_kind, name)
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise SpecError(f"must be a whole number, got {_show(value)}", layer, layer_kind, name)
        value = int(value)
        if not low <= value <= high:
            raise SpecError(f"{value} is out of range; use {low:g} to {high:g}", layer, layer_kind, name)
        return value
    value = float(value)
    if not low <= value <= high:
        raise SpecError(f"{value:g} is out of range; use {low:g} to {high:g}", layer, layer_kind, name)
    return value


def _show(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (bool, type(None), list, dict)) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _layer_from_mapping(item: Any, index: int | None) -> Layer:
    if not isinstance(item, dict):
        raise SpecError(f"must be a JSON object like {{\"type\": \"dense\", \"units\": 64}}, got {_show(item)}", index)
    kind = item.get("type")
    if not isinstance(kind, str) or kind.lower() not in FIELDS:
        raise SpecError(f"unknown layer type {_show(kind)}; choose one of {', '.join(FIELDS)}", index, key="type")
    kind = kind.lower()
    known = {spec[0] for spec in FIELDS[kind]}
    extra = sorted(str(k)[:40] for k in item if k != "type" and k not in known)
    if extra:
        allowed = ", ".join(sorted(known)) or "none"
        raise SpecError(f"unknown field for a {kind} layer (its fields: {allowed})", index, kind, extra[0])
    values = []
    for spec in FIELDS[kind]:
        name, default = spec[0], spec[4]
        if name not in item:
            if default is None:
                raise SpecError("is required", index, kind, name)
            values.append((name, default))
        else:
            values.append((name, _check_value(spec, item[name], (index, kind))))
    return Layer(kind, tuple(values))


def from_json(data: Any) -> Architecture:
    """An :class:`Architecture` from parsed JSON: ``{"layers": [...]}`` or a bare list of layers."""
    if isinstance(data, dict):
        unknown = sorted(str(k)[:40] for k in data if k not in ("layers", "format", "version"))
        if unknown:
            raise SpecError("unknown field (an architecture has 'layers', and optionally 'format' and 'version')",
                            key=unknown[0])
        if "format" in data and data["format"] != SPEC_FORMAT:
            raise SpecError(f"must be {SPEC_FORMAT!r}, got {_show(data['format'])}", key="format")
        if "version" in data and (isinstance(data["version"], bool) or data["version"] != 1):
            raise SpecError(f"version {_show(data['version'])} is not supported (this app reads version 1)", key="version")
        if "layers" not in data:
            raise SpecError("is required: a list of layers", key="layers")
        data = data["layers"]
    if not isinstance(data, list):
        raise SpecError(f"must be a list of layers, got {_show(data)}", key="layers")
    if len(data) > MAX_LAYERS:
        raise SpecError(f"{len(data)} layers is too many (at most {MAX_LAYERS})", key="layers")
    return Architecture(tuple(_layer_from_mapping(item, i) for i, item in enumerate(data)))


def _parse_number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text  # a word: padding, or a typo reported by the field check


def parse_compact(text: str) -> Architecture:
    """Parse the compact grammar (see the module docstring); an empty text is logistic regression."""
    if not isinstance(text, str):
        raise SpecError(f"must be text, got {_show(text)}")
    if len(text) > MAX_TEXT:
        raise SpecError(f"is {len(text)} characters long (at most {MAX_TEXT})")
    tokens = [t.strip() for t in text.replace(";", ",").split(",")]
    if tokens == [""]:
        return Architecture()
    if len(tokens) > MAX_LAYERS:
        raise SpecError(f"{len(tokens)} layers is too many (at most {MAX_LAYERS})", key="layers")
    layers = []
    for i, token in enumerate(tokens):
        if not token:
            raise SpecError("is empty (two commas in a row?)", i)
        kind, *args = [part.strip() for part in token.split(":")]
        kind = kind.lower()
        if kind not in FIELDS:
            raise SpecError(f"unknown layer type {kind!r}; choose one of {', '.join(FIELDS)}", i, key="type")
        specs = FIELDS[kind]
        if len(args) > len(specs):
            usage = ":".join([kind, *(s[0].upper() for s in specs)])
            raise SpecError(f"{token!r} has {len(args)} values, a {kind} layer takes at most {len(specs)} ({usage})", i, kind)
        layers.append(_layer_from_mapping({"type": kind, **{s[0]: _parse_number(a) for s, a in zip(specs, args)}}, i))
    return Architecture(tuple(layers))


def read_architecture(text: str) -> Architecture:
    """What ``--arch`` accepts: a path to a JSON spec file, or compact text."""
    candidate = Path(text)
    if text.endswith(".json") or (len(text) < 1000 and candidate.is_file()):
        try:
            raw = candidate.read_bytes()[: MAX_TEXT * 1024 + 1]
        except OSError as err:
            raise SpecError(f"cannot read {candidate}: {err.strerror or err}", key="file") from None
        if len(raw) > MAX_TEXT * 1024:
            raise SpecError(f"{candidate} is larger than {MAX_TEXT} KB; an architecture is a few lines", key="file")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise SpecError(f"{candidate} is not valid JSON ({err})", key="file") from None
        return from_json(data)
    return parse_compact(text)


# -- shapes, sizes and the rules of a valid stack ------------------------------------


@dataclass(frozen=True)
class LayerRow:
    """One line of the live summary: what a layer outputs and what it costs."""

    index: int | None  # position in the stack; None for the automatic output layer
    label: str
    shape: tuple[int, ...]
    params: int
    macs: int
    module: str = ""  # the Haiku module holding its weights, if any


@dataclass
class Summary:
    """Shapes and costs layer by layer, up to the first problem (``error``)."""

    rows: list[LayerRow] = field(default_factory=list)
    error: SpecError | None = None

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def valid(self) -> bool:
        return self.error is None


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def module_names(arch: Architecture, preset: str | None = None) -> list[str]:
    """Haiku module name of each layer (``""`` for weightless ones), then the output layer's.

    Presets keep the names of the hand-written models they replace ("hidden1",
    "dense", "linear"), so checkpoints saved before specs existed still load.
    """
    if preset is not None and preset in PRESET_NAMES:
        weighted = iter(PRESET_NAMES[preset])
        return [next(weighted) if layer.kind in WEIGHTED else "" for layer in arch.layers] + [next(weighted)]
    counts: dict[str, int] = {}
    names = []
    for layer in arch.layers:
        if layer.kind in WEIGHTED:
            prefix = WEIGHTED[layer.kind]
            counts[prefix] = counts.get(prefix, 0) + 1
            names.append(f"{prefix}{counts[prefix]}")
        else:
            names.append("")
    return names + ["output"]


WEIGHTED = {"conv": "conv", "dense": "dense", "layernorm": "norm"}


def _step(layer: Layer, i: int, shape: tuple[int, ...], flattened_by: int | None) -> tuple[tuple[int, ...], int, int]:
    """(output shape, params, multiply-adds) of ``layer`` on ``shape``; raises on a rule broken."""
    kind = layer.kind
    if kind in ("conv", "maxpool", "avgpool") and len(shape) != 3:
        raise SpecError(f"needs an image-shaped input, but layer {flattened_by} already made it a vector of "
                        f"{shape[0]}; put conv and pool layers before any dense or flatten", i, kind, "type")
    if kind == "conv":
        h, w, c = shape
        k, s, pad, out = layer.get("kernel"), layer.get("stride"), layer.get("padding"), layer.get("channels")
        if k > min(h, w):
            raise SpecError(f"{k} is larger than its {h}×{w} input; use ≤ {min(h, w)} or remove a pool/stride before it",
                            i, kind, "kernel")
        oh, ow = ((h - k) // s + 1, (w - k) // s + 1) if pad == "valid" else (-(-h // s), -(-w // s))
        return (oh, ow, out), k * k * c * out + out, oh * ow * out * k * k * c
    if kind in ("maxpool", "avgpool"):
        h, w, c = shape
        size = layer.get("size")
        if size > min(h, w):
            raise SpecError(f"{size} is larger than its {h}×{w} input; use ≤ {min(h, w)}", i, kind, "size")
        return (h // size, w // size, c), 0, 0
    if kind == "flatten":
        return (math.prod(shape),), 0, 0
    if kind == "dense":
        n, units = math.prod(shape), layer.get("units")
        return (units,), n * units + units, n * units
    if kind == "layernorm":
        return shape, 2 * shape[-1], 0
    return shape, 0, 0


def summarize(arch: Architecture, preset: str | None = None) -> Summary:
    """Every layer's output shape, parameters and multiply-adds, stopping at the first problem.

    Multiply-adds count the conv and dense layers (everything else costs a few
    operations per value, negligible beside them).
    """
    summary = Summary()
    names = module_names(arch, preset)
    shape: tuple[int, ...] = INPUT_SHAPE
    flattened_by: int | None = None
    try:
        for i, layer in enumerate(arch.layers):
            if layer.kind not in FIELDS:
                raise SpecError(f"unknown layer type {layer.kind!r}", i, key="type")
            shape, params, macs = _step(layer, i, shape, flattened_by)
            if len(shape) == 1 and flattened_by is None:
                flattened_by = i + 1
            if min(shape) < 1:
                raise SpecError("leaves nothing of the image (an output size of 0)", i, layer.kind)
            summary.rows.append(LayerRow(i, layer.describe(), shape, params, macs, names[i]))
            _check_caps(summary, i, layer.kind, shape)
        weighted = [layer for layer in arch.layers if layer.kind not in ("dropout", "flatten")]
        if weighted and weighted[-1].kind == "dense":
            last = max(i for i, layer in enumerate(arch.layers) if layer.kind == "dense")
            raise SpecError(f"a dense layer right before the output adds nothing (two linear maps in a row are one); "
                            f"the {NUM_CLASSES}-class output layer is added automatically: add an activation after "
                            "it or remove it", last, "dense", "units")
        n = math.prod(shape)
        summary.rows.append(LayerRow(None, f"Output (dense {NUM_CLASSES}, added automatically)", (NUM_CLASSES,),
                                     n * NUM_CLASSES + NUM_CLASSES, n * NUM_CLASSES, names[-1]))
        _check_caps(summary, len(arch.layers), "output", (NUM_CLASSES,))
    except SpecError as err:
        summary.error = err
    return summary


def _check_caps(summary: Summary, i: int, kind: str, shape: tuple[int, ...]) -> None:
    key = {"conv": "channels", "dense": "units"}.get(kind, "")
    layer = i if kind != "output" else None
    if summary.params > MAX_PARAMS:
        raise SpecError(f"the network would have {summary.params:,} parameters (at most {MAX_PARAMS:,}); use fewer "
                        "units or channels, or pool before the dense layers", layer, kind, key)
    if summary.macs > MAX_MACS:
        raise SpecError(f"the network would need {summary.macs:,} multiply-adds per image (at most {MAX_MACS:,}); "
                        "use fewer channels, a stride or a pool", layer, kind, key)
    if math.prod(shape) > MAX_ACTIVATION:
        raise SpecError(f"outputs {math.prod(shape):,} values per image (at most {MAX_ACTIVATION:,})", layer, kind, key)


def check(arch: Architecture, preset: str | None = None) -> Summary:
    """The :func:`summarize` result of a valid architecture; raises its :class:`SpecError` otherwise."""
    summary = summarize(arch, preset)
    if summary.error is not None:
        raise summary.error
    return summary


# -- presets and model names ---------------------------------------------------------


#: The fixed models of earlier versions, and the Flax example's CNN, as specs.
PRESETS: dict[str, Architecture] = {
    "logreg": parse_compact(""),
    "mlp": parse_compact("dense:300,relu,dense:100,relu"),
    "cnn": parse_compact("conv:32:5:2:valid,relu,maxpool:2,conv:64:3:1:valid,relu,dense:128,relu"),
    "flax-cnn": parse_compact("conv:32:3:1:same,relu,avgpool:2,conv:64:3:1:same,relu,avgpool:2,dense:256,relu"),
}
#: Module names of the hand-written models (weighted layers, then the output layer).
PRESET_NAMES: dict[str, tuple[str, ...]] = {
    "logreg": ("linear",),
    "mlp": ("hidden1", "hidden2", "output"),
    "cnn": ("conv1", "conv2", "dense", "output"),
}
PRESET_TITLES = {
    "logreg": ("Logistic regression", "784→10 linear classifier; weights are class templates"),
    "mlp": ("MLP (LeNet-300-100)", "784→300→100→10 fully connected, ReLU"),
    "cnn": ("CNN", "conv5×5/2·32 → pool → conv3×3·64 → 128 → 10"),
    "flax-cnn": ("Flax-style CNN", "conv3×3·32 → avgpool → conv3×3·64 → avgpool → 256 → 10 (the Flax MNIST example)"),
}


def model_id(arch: Architecture) -> str:
    """The model name for ``arch``: a preset's name when the layers equal one, else its compact text."""
    for name, preset in PRESETS.items():
        if preset == arch:
            return name
    return arch.to_compact() or "logreg"


def architecture_of(model: str) -> tuple[Architecture, str | None]:
    """``(architecture, preset name or None)`` for a model name; raises :class:`SpecError`.

    A compact name always gets automatic module names, even when its layers equal
    a preset's: callers name models with :func:`model_id`, which picks the preset.
    """
    if model in PRESETS:
        return PRESETS[model], model
    return parse_compact(model), None


def is_custom(model: str) -> bool:
    """True for a model named by its layers rather than a preset name."""
    return model not in PRESETS


def validate_model_name(model: Any) -> Summary:
    """Check a TrainConfig/checkpoint model name; raises :class:`SpecError` naming the problem."""
    if not isinstance(model, str):
        raise SpecError(f"must be a preset name ({', '.join(PRESETS)}) or a layer list, got {_show(model)}", key="model")
    arch, preset = architecture_of(model)
    return check(arch, preset)


def file_label(model: str) -> str:
    """A filename-safe word for a model ("cnn", "custom")."""
    return model if model in PRESETS else "custom"


def iter_weighted(arch: Architecture, preset: str | None = None) -> Iterable[tuple[int, Layer, str]]:
    """``(index, layer, module name)`` of each layer that has weights, in order."""
    names = module_names(arch, preset)
    return ((i, layer, names[i]) for i, layer in enumerate(arch.layers) if names[i])
