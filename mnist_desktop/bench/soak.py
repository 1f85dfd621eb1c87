"""Long-session soak: many start/stop training cycles and canvas predictions in one process.

Run as ``python -m mnist_desktop.bench.soak --cycles 200 --predictions 10000``
(``mnist-desktop bench soak`` does). It drives the real :class:`Worker` on its
QThread through its signals, as the window does, and prints one JSON line with
RSS after warm-up and at the end, thread count and open file descriptors.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_desktop.bench.soak")
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--predictions", type=int, default=10_000)
    parser.add_argument("--model", default="cnn")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QCoreApplication, QEventLoop, QThread

    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.paths import bundled_model_path
    from mnist_desktop.core.data.strokes import random_drawn_digit
    from mnist_desktop.core.training.trainer import default_config
    from mnist_desktop.gui.handles import RunHandle, RunRequest
    from mnist_desktop.gui.run_history import RunRecord
    from mnist_desktop.gui.worker import Worker

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    configure_jax()
    thread = QThread()
    worker = Worker()
    worker.moveToThread(thread)
    thread.start()
    state: dict = {"predictions": 0, "finished": 0, "started": 0, "model": False}
    worker.prediction.connect(lambda p, a: state.__setitem__("predictions", state["predictions"] + 1))
    worker.modelChanged.connect(lambda info: state.__setitem__("model", True))

    def wait_until(cond, timeout: float = 120.0) -> None:
        loop_deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > loop_deadline:
                raise TimeoutError("soak step timed out")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    worker.loadRequested.emit(str(bundled_model_path()))
    wait_until(lambda: state["model"])
    config = default_config(args.model, dataset="mnist-subset", epochs=1, log_every=2).to_dict()
    rng = np.random.default_rng(0)
    images = [random_drawn_digit(int(rng.integers(10)), rng) for _ in range(64)]

    def cycle(i: int) -> None:
        handle = RunHandle(RunRecord(number=i + 1, config=config), worker)
        handle.step.connect(lambda _event: handle.stop())  # stop as soon as it runs
        worker.trainRequested.emit(RunRequest(handle, config))
        wait_until(lambda: handle.done)
        state["finished"] += 1

    def predict(i: int) -> None:
        seen = state["predictions"]
        worker.request_prediction(images[i % len(images)])
        wait_until(lambda: state["predictions"] > seen)

    t0 = time.perf_counter()
    warm_cycles, warm_preds = min(20, args.cycles), min(500, args.predictions)
    for i in range(warm_cycles):
        cycle(i)
    for i in range(warm_preds):
        predict(i)
    gc.collect()
    baseline = {"rss": rss_mb(), "threads": thread_count(), "fds": fd_count()}
    trace: list[float] = []
    for i in range(warm_cycles, args.cycles):
        cycle(i)
        if i % 20 == 0:
            trace.append(round(rss_mb()))
        # interleave predictions with cycles, as a person drawing between runs
        for j in range((args.predictions - warm_preds) // max(1, args.cycles - warm_cycles)):
            predict(j)
    remaining = args.predictions - state["predictions"]
    for i in range(max(0, remaining)):
        predict(i)
    gc.collect()
    end = {"rss": rss_mb(), "threads": thread_count(), "fds": fd_count()}
    worker.stop_training()
    thread.quit()
    thread.wait(10_000)
    print(json.dumps({
        "cycles": args.cycles, "predictions": state["predictions"], "seconds": round(time.perf_counter() - t0, 1),
        "rss_after_warmup_mb": round(baseline["rss"], 1), "rss_end_mb": round(end["rss"], 1),
        "rss_growth_mb": round(end["rss"] - baseline["rss"], 1),
        "threads_start": baseline["threads"], "threads_end": end["threads"],
        "fds_start": baseline["fds"], "fds_end": end["fds"], "model": args.model, "rss_trace_mb": trace,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
