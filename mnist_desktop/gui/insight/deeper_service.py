"""The worker-side half of the map, step-through and fool-it views.

One :class:`DeeperService` per worker lives on the worker's thread, so every
JAX call (and every array sum a page shows) runs there, never on the GUI
thread. Views ask through :meth:`DeeperService.request` (thread-safe, latest
wins per kind, like the live prediction) and get plain data back through
signals. The worker serves the service whenever it serves a prediction — when
idle, and between the steps of a training run — so pages follow the pen and the
model even while it trains (``Worker.add_service``). Slow work is a core
generator advanced one chunk per visit (a t-SNE map: ~10 iterations), so a
prediction is never more than one chunk away; it pauses while a run trains.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, Iterator

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

STEP_PAGE_EVERY_S = 0.25  # while training: at most four step-through pages a second
MAP_TEST_CAP = 500  # test digits a robustness curve sweeps (13 levels each)


class DeeperService(QObject):
    """See the module docstring. Requests: layers, map, tsne, overlay, step, attack, curves, probe."""

    layersReady = Signal(str, list)  # model_name, [(layer, title)] in forward order
    mapReady = Signal(dict)  # method, layer, coords (N, 2), labels, predictions, images (N, 28, 28) uint8, …
    mapProgress = Signal(dict)  # iteration, total, phase, coords or None
    mapPoint = Signal(object)  # (2,) position of the current drawing, or None
    overlayReady = Signal(dict)  # coords (M, 2), labels (M,) of the person's own drawings
    stepReady = Signal(object)  # dict: page (stepthrough.Page), titles, model_name, probabilities
    attackReady = Signal(object)  # adversarial.AttackResult
    curveReady = Signal(dict)  # source ("drawing" / "test"), curve (robustness.Curve), label, done
    probeReady = Signal(dict)  # name, level, image, probabilities
    failed = Signal(str, str)  # request kind, message for a person
    _poke = Signal()

    def __init__(self, worker: Any):
        super().__init__()
        self._worker = worker
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}
        self._cancel_tsne = threading.Event()
        self._tsne: Iterator | None = None
        self._curves: tuple[Iterator, str, int | None] | None = None
        self._map: dict[str, Any] | None = None  # the fitted map (worker thread only)
        self._image: np.ndarray | None = None
        self._step_wanted = False
        self._point_wanted = False
        self._step_state: dict[str, Any] = {"stage": None, "cell": None, "temperature": 1.0}
        self._last_step = 0.0
        self._stages: tuple[Any, Any, Any] | None = None  # (params, image, stages) of the last walk
        self.refresh_each_epoch = False
        self._poke.connect(self._serve_idle, Qt.ConnectionType.QueuedConnection)

    # -- GUI thread ---------------------------------------------------------------
    def request(self, kind: str, **payload: Any) -> None:
        """Ask for ``kind`` (latest wins); the answer comes as a signal."""
        with self._lock:
            self._pending[kind] = payload
            if kind == "tsne":
                self._cancel_tsne.clear()
        self._poke.emit()

    def cancel_tsne(self) -> None:
        """Stop a t-SNE run after its current chunk (thread-safe)."""
        self._cancel_tsne.set()
        self._poke.emit()

    def set_wanted(self, *, step: bool | None = None, point: bool | None = None) -> None:
        """Which live answers to compute for each new drawing (only what a visible view shows)."""
        if step is not None:
            self._step_wanted = step
        if point is not None:
            self._point_wanted = point
        self._poke.emit()

    # -- worker thread --------------------------------------------------------------
    def _model(self) -> tuple[str | None, Any]:
        trainer = getattr(self._worker, "_trainer", None)
        if trainer is not None:
            return trainer.config.model, trainer.params
        return self._worker.model_name, self._worker.params

    @Slot()
    def _serve_idle(self) -> None:
        name, params = self._model()
        self.serve(name, params, getattr(self._worker, "_last_image", None))

    def serve(self, model_name: str | None, params: Any, image: np.ndarray | None) -> None:
        """Answer what is pending for ``model_name``/``params`` and the current drawing ``image``."""
        if model_name is None or params is None:
            return
        changed = image is not self._image
        self._image = image
        with self._lock:
            pending, self._pending = self._pending, {}
        training = self._worker.is_training()
        for kind, payload in pending.items():
            self._guard(kind, lambda kind=kind, payload=payload: self._answer(kind, payload, model_name, params))
        if self._map is not None and self._point_wanted and (changed or "map" in pending or "tsne" in pending):
            self._guard("point", lambda: self._emit_point(model_name, params))
        if self._step_wanted and ("step" in pending or changed or (training and self._step_due())):
            self._guard("step", lambda: self._emit_step(model_name, params))
        if not training:
            self._advance(model_name, params)

    def on_epoch(self, model_name: str, params: Any) -> None:
        """A training epoch ended: refit the map with the new weights if the person asked for that."""
        if self.refresh_each_epoch and self._map is not None:
            from mnist_desktop.core.analysis.layers import layer_names

            layers = layer_names(model_name)  # the run may train another architecture than the map showed
            layer = self._map["layer"] if self._map["layer"] in layers else layers[max(len(layers) - 2, 0)]
            self._guard("map", lambda: self._fit_map(model_name, params, layer, epoch=True))
            self._guard("point", lambda: self._emit_point(model_name, params))

    def _guard(self, kind: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as err:  # a view's request must never take the worker down
            traceback.print_exc()
            self.failed.emit(kind, str(err) or type(err).__name__)

    def _step_due(self) -> bool:
        return time.monotonic() - self._last_step >= STEP_PAGE_EVERY_S

    def _answer(self, kind: str, payload: dict[str, Any], model_name: str, params: Any) -> None:
        if kind == "layers":
            from mnist_desktop.core.analysis.layers import layer_shapes, layer_title

            self.layersReady.emit(model_name, [(n, layer_title(n, s)) for n, s in layer_shapes(model_name).items()])
        elif kind == "map":
            self._tsne = None
            self._fit_map(model_name, params, payload["layer"])
        elif kind == "tsne":
            self._start_tsne()
        elif kind == "overlay":
            self._emit_overlay(model_name, params)
        elif kind == "step":
            self._step_state.update(payload)
        elif kind == "attack":
            from mnist_desktop.core.analysis.adversarial import attack

            image = payload.pop("image", None)
            image = self._image if image is None else image
            if image is None:
                raise ValueError("draw a digit first: the lab changes your drawing")
            self.attackReady.emit(attack(model_name, params, image, **payload))
        elif kind == "curves":
            self._start_curves(model_name, params, payload["source"])
        elif kind == "probe":
            from mnist_desktop.core.analysis.robustness import probe

            if self._image is not None:
                image, probs = probe(model_name, params, self._image, payload["name"], payload["level"])
                self.probeReady.emit({"name": payload["name"], "level": payload["level"], "image": image,
                                      "probabilities": probs})

    # -- the map ------------------------------------------------------------------------
    def _test_set(self) -> tuple[Any, str]:
        """The active model's test set: full MNIST where found, else the bundled subset (and a note)."""
        from mnist_desktop.core.data.datasets import load_dataset
        from mnist_desktop.core.errors import MnistDesktopError

        name = str((getattr(self._worker, "info", None) or {}).get("dataset") or "mnist")
        try:
            return load_dataset(name), ""
        except MnistDesktopError:
            if name != "mnist":
                raise
            subset = load_dataset("mnist-subset")
            return subset, (f"Full MNIST not found: the map shows the bundled subset's {len(subset.test_images):,} "
                            "test digits (download MNIST in the Training panel for 5,000).")

    def _fit_map(self, model_name: str, params: Any, layer: str, epoch: bool = False) -> None:
        from mnist_desktop.core.analysis.layers import layer_features
        from mnist_desktop.core.analysis.projection import fit_pca, map_sample, orient_like

        dataset, note = self._test_set()
        index = map_sample(len(dataset.test_images))
        images = np.asarray(dataset.test_images[index])
        feats, preds = layer_features(model_name, params, images, layer)
        pca = fit_pca(feats)
        coords = pca.transform(feats)
        old = self._map
        if old is not None and old["layer"] == layer and old["model_name"] == model_name:
            pca, coords = orient_like(pca, coords, old["pca_coords"])  # refits keep their orientation
        self._map = {"model_name": model_name, "layer": layer, "features": feats, "pca": pca, "pca_coords": coords,
                     "method": "pca", "placer": None, "reducer": None}
        self.mapReady.emit({
            "method": "pca", "layer": layer, "model_name": model_name, "coords": coords,
            "labels": np.asarray(dataset.test_labels[index]), "predictions": preds, "images": images,
            "explained": pca.explained, "dataset": dataset.title, "note": note, "epoch": epoch,
            "class_names": list(dataset.class_names),
        })

    def _start_tsne(self) -> None:
        from mnist_desktop.core.analysis.projection import TSNE_MISSING, reduce_for_tsne, tsne_available, tsne_steps

        if self._map is None:
            raise ValueError("make the PCA map first")
        if not tsne_available():
            raise RuntimeError(TSNE_MISSING)
        reducer, reduced = reduce_for_tsne(self._map["features"])
        self._map.update(reducer=reducer, reduced=reduced)
        self._tsne = tsne_steps(reduced)

    def _advance(self, model_name: str, params: Any) -> None:
        """One chunk of the slow work in progress, then come back (predictions in between)."""
        if self._tsne is not None:
            if self._cancel_tsne.is_set():
                self._tsne.close()
                self._tsne = None
                self.mapProgress.emit({"phase": "cancelled", "iteration": 0, "total": 0, "coords": None})
                return
            self._guard("tsne", self._tsne_chunk)
            self._poke.emit()
        elif self._curves is not None:
            self._guard("curves", self._curve_chunk)
            self._poke.emit()

    def _tsne_chunk(self) -> None:
        from mnist_desktop.core.analysis.projection import NeighbourPlacer

        assert self._tsne is not None and self._map is not None
        try:
            report = next(self._tsne)
        except StopIteration:
            self._tsne = None
            return
        except Exception:
            self._tsne = None
            raise
        self.mapProgress.emit({"phase": report.phase, "iteration": report.iteration, "total": report.total,
                               "coords": report.coords})
        if report.phase == "done":
            self._tsne = None
            self._map.update(method="tsne", placer=NeighbourPlacer(self._map["reduced"], report.coords))

    def _project(self, model_name: str, params: Any, images: np.ndarray) -> np.ndarray:
        from mnist_desktop.core.analysis.layers import layer_features

        assert self._map is not None
        feats, _ = layer_features(model_name, params, images, self._map["layer"])
        if self._map["method"] == "tsne" and self._map["placer"] is not None:
            return self._map["placer"].place(self._map["reducer"].transform(feats))
        return self._map["pca"].transform(feats)

    def _emit_point(self, model_name: str, params: Any) -> None:
        if self._map is None or self._map["model_name"] != model_name or self._image is None:
            self.mapPoint.emit(None)
            return
        from mnist_desktop.core.analysis.layers import one_features

        feats = one_features(model_name, params, self._image, self._map["layer"])
        if self._map["method"] == "tsne" and self._map["placer"] is not None:
            self.mapPoint.emit(self._map["placer"].place(self._map["reducer"].transform(feats)))
        else:
            self.mapPoint.emit(self._map["pca"].transform(feats))

    def _emit_overlay(self, model_name: str, params: Any) -> None:
        if self._map is None:
            raise ValueError("make the map first")
        from mnist_desktop.core.handwriting.store import PersonalDataset

        images, labels = PersonalDataset.load().arrays()
        if len(images) == 0:
            raise ValueError("no drawings of your own yet: save some in the My handwriting panel")
        self.overlayReady.emit({"coords": self._project(model_name, params, images), "labels": np.asarray(labels),
                                "images": np.asarray(images)})

    # -- step through ----------------------------------------------------------------------
    def _emit_step(self, model_name: str, params: Any) -> None:
        from mnist_desktop.core.analysis import stepthrough

        self._last_step = time.monotonic()
        if self._image is None:
            self.stepReady.emit(None)
            return
        cached = self._stages
        if cached is None or cached[0] is not params or cached[1] is not self._image:
            host = _host_params(params)
            cached = self._stages = (params, self._image, stepthrough.walk(model_name, host, self._image))
        stages = cached[2]
        state = self._step_state
        index = min(int(state.get("stage") or 0), len(stages) - 1)
        cell = state.get("cell")
        page = stepthrough.page(stages, index, tuple(cell) if cell is not None else None,
                                float(state.get("temperature") or 1.0))
        self.stepReady.emit({"page": page, "titles": [s.title for s in stages], "model_name": model_name,
                             "probabilities": stages[-1].output, "kinds": [s.op.kind for s in stages]})

    # -- robustness curves --------------------------------------------------------------------
    def _start_curves(self, model_name: str, params: Any, source: str) -> None:
        from mnist_desktop.core.analysis.insight import predict_one
        from mnist_desktop.core.analysis.robustness import curves

        if source == "drawing":
            if self._image is None:
                raise ValueError("draw a digit first")
            label = int(np.argmax(predict_one(model_name, params, self._image)))
            images, labels = self._image[None], np.array([label])
        else:
            dataset, _ = self._test_set()
            index = np.random.default_rng(0).permutation(len(dataset.test_images))[:MAP_TEST_CAP]
            images, labels, label = dataset.test_images[index], dataset.test_labels[index], None
        self._curves = (curves(model_name, params, images, labels), source, label)

    def _curve_chunk(self) -> None:
        assert self._curves is not None
        iterator, source, label = self._curves
        try:
            result = next(iterator)
        except StopIteration:
            self._curves = None
            self.curveReady.emit({"source": source, "curve": None, "label": label, "done": True})
            return
        self.curveReady.emit({"source": source, "curve": result, "label": label, "done": False})


def _host_params(params: Any) -> Any:
    import jax

    return jax.device_get(params)


def deeper_service(worker: Any) -> DeeperService:
    """The worker's one service, created (and moved to the worker's thread) on first use."""
    service = getattr(worker, "_deeper_service", None)
    if service is None:
        service = DeeperService(worker)
        service.moveToThread(worker.thread())
        worker._deeper_service = service
        worker.add_service(service)
    return service
