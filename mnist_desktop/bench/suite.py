"""``mnist-desktop bench``: how fast is this machine? A table and JSON.

Users run it on their own laptop or GPU, so the code ships in the package and
uses the installed app exactly as a person would: training goes through the
``train`` command in a fresh process (compile and start-up included), GUI
figures come from probes that open the real window offscreen. Optionally the
PyTorch reference script runs in the same session for side-by-side ratios.

Suites: ``train`` (default recipes, seeds, samples/s, time-to-accuracy, peak
RSS), ``inference`` (preprocess + forward latency), ``analysis`` (map point,
step-through page, adversarial attack: ``bench/analysis.py``), ``startup`` (window and
first prediction, warm compilation cache), ``stall`` (GUI event-loop stalls
while training), ``soak`` (start/stop cycles and predictions: leak check),
``torch`` (the reference, needs ``--torch-python``). ``all`` runs every suite
but soak.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mnist_desktop.core.errors import MnistDesktopError

SUITES = ("train", "inference", "analysis", "compare", "startup", "stall", "torch", "soak")
DEFAULT_SUITES = ("train", "inference", "analysis", "compare", "startup", "stall", "torch")


def _shared_data_guess() -> Path | None:
    here = Path(__file__).resolve().parents[3] / "shared" / "data"
    return here if (here / "mnist").exists() else None


def _data_dir(args: argparse.Namespace) -> Path | None:
    return args.data or (Path(os.environ["MNIST_DESKTOP_DATA"]) if os.environ.get("MNIST_DESKTOP_DATA") else None) or _shared_data_guess()


def _run_json(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    """Run a command, return its last JSON line and its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise MnistDesktopError(f"benchmark step failed: {' '.join(cmd[:6])}…: {' / '.join(tail)}")
    return json.loads(lines[-1]), wall


def _app_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mnist_desktop", *args]


# -- suites ----------------------------------------------------------------------


#: The CNN recipe when issue 19 was filed (2.5 epochs at peak lr 6e-3, no outlier exposure:
#: 99.17–99.27 %, seeds 0–2), as ``train`` overrides: ``bench`` prints its time-to-accuracy
#: curve beside the default's, which adds outlier exposure (issue 16) to the same schedule.
PREVIOUS_CNN_RECIPE = ("--lr", "6e-3", "--epochs", "2.5", "--outlier-exposure", "0")


def bench_train(data: Path | None, quick: bool, seeds: list[int]) -> dict[str, Any]:
    """Default recipes through the real CLI: accuracy, train seconds, process seconds, peak RSS.

    Every run uses a compilation cache of the bench's own, empty at the start: the
    first CNN run is therefore a *cold* one (it fills the cache), and the seeds
    after it are warm, as they are for a person's second run. The timed runs
    evaluate only at the end; two extra runs track test accuracy after every
    epoch, one for the default CNN recipe and one for the previous one.
    """
    dataset = ["--dataset", "mnist", "--data-dir", str(data)] if data else ["--dataset", "mnist-subset"]
    out: dict[str, Any] = {"dataset": "mnist" if data else "mnist-subset", "runs": [], "time_to_accuracy": []}
    plan: list[tuple[str, int, str | None, tuple[str, ...]]] = [("cnn", seeds[0], "cold", ())] + [
        ("cnn", seed, None, ()) for seed in seeds] + [
        ("mlp", seeds[0], None, ()), ("logreg", seeds[0], None, ()),
        ("cnn", seeds[0], "default", ()), ("cnn", seeds[0], "previous", PREVIOUS_CNN_RECIPE)]
    if quick:
        plan = [("cnn", seeds[0], None, ())]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MNIST_DESKTOP_JAX_CACHE=str(Path(tmp) / "jax-cache"))
        for model, seed, kind, overrides in plan:
            curve = kind in ("default", "previous")
            report, wall = _run_json(
                _app_cmd("train", *dataset, "--model", model, "--seed", str(seed), "--json", *overrides,
                         *(["--track-test"] if curve else []), "--out", str(Path(tmp) / f"{model}-{seed}.ckpt")),
                timeout=1800, env=env,
            )
            if curve:
                out["time_to_accuracy"].append({"recipe": kind, "model": model, "seed": seed, "epochs": report["epochs"],
                                                "learning_rate": report["hyperparameters"]["learning_rate"],
                                                "outlier_exposure": report["hyperparameters"].get("outlier_exposure"),
                                                "curve": report.get("curve")})
                continue
            out["runs"].append({
                "model": model, "seed": seed, "cache": "cold" if kind == "cold" else "warm", "epochs": report["epochs"],
                "test_accuracy": report["test_accuracy"], "train_seconds": report["train_seconds"],
                "process_seconds": round(wall, 2), "peak_rss_mb": report.get("peak_rss_mb"),
                "samples_per_s": report.get("samples_per_s"),
                "epoch_samples_per_s": report.get("epoch_samples_per_s") or [],
                "phases": report.get("phases") or {},
            })
    return out


def bench_inference(repeats: int) -> dict[str, Any]:
    """The app's live path: a 560×560 canvas array → preprocess → CNN probabilities."""
    from mnist_desktop.core.models.checkpoints import load_checkpoint
    from mnist_desktop.core.analysis.insight import SALIENCY_METHODS, analyse_one, predict_one
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.paths import bundled_model_path
    from mnist_desktop.core.data.preprocess import to_model_input
    from mnist_desktop.core.data.strokes import random_drawn_canvas

    configure_jax()
    import jax

    ckpt = load_checkpoint(bundled_model_path())
    params = jax.device_put(ckpt.params)  # as the GUI worker keeps the active model (Worker.set_params)
    rng = np.random.default_rng(0)
    # uint8 pixels, as the canvas hands them over (DrawingCanvas.to_bytes)
    canvases = [random_drawn_canvas(int(rng.integers(10)), rng, canvas_size=560) for _ in range(32)]
    predict_one(ckpt.model_name, params, to_model_input(canvases[0]))  # compile
    for method in SALIENCY_METHODS:
        analyse_one(ckpt.model_name, params, to_model_input(canvases[0]), method)
    result: dict[str, Any] = {"model": ckpt.model_name}
    paths = [("predict", predict_one)] + [
        # the insight views' live analysis, with each saliency method they offer
        (f"+activations+{method} saliency", lambda m, p, x, method=method: analyse_one(m, p, x, method).probabilities)
        for method in SALIENCY_METHODS]
    for name, fn in paths:
        pre, total = [], []
        for i in range(repeats):
            canvas = canvases[i % len(canvases)]
            t0 = time.perf_counter()
            x = to_model_input(canvas)
            t1 = time.perf_counter()
            fn(ckpt.model_name, params, x)
            t2 = time.perf_counter()
            pre.append(t1 - t0)
            total.append(t2 - t0)
        ms = lambda v, q: round(float(np.percentile(v, q)) * 1e3, 3)
        result[name] = {"p50_ms": ms(total, 50), "p99_ms": ms(total, 99), "preprocess_p50_ms": ms(pre, 50), "n": repeats}
    return result


def bench_gui_probe(module: str, args: list[str], timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    report, _ = _run_json([sys.executable, "-m", module, *args], timeout=timeout, env=env)
    return report


def bench_startup(warm_runs: int = 3) -> dict[str, Any]:
    """Cold start of the app process; the first run fills the compilation cache.

    ``warm_cache`` is the median warm run (by first prediction): on a shared
    machine single runs vary by seconds.
    """
    first = bench_gui_probe("mnist_desktop.bench.startup_probe", [], 120)
    warm = sorted((bench_gui_probe("mnist_desktop.bench.startup_probe", [], 120) for _ in range(warm_runs)),
                  key=lambda r: r["first_prediction_s"])
    return {"first_run": first, "warm_cache": warm[len(warm) // 2], "warm_runs": warm}


#: Alternating (ours, PyTorch) MLP runs. One pair is luck on a shared VM: measured
#: here, PyTorch's MLP ran at 35k samples/s in one process and 65k in the next,
#: ours at 77k–104k, so single-pair ratios ranged 1.4–2.7×. The median of a few
#: alternating pairs is what a user can expect.
MLP_PAIRS = 3


def _torch_reference(torch_python: str, script: Path, data: Path, model: str, extra: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run([torch_python, str(script), "--data", str(data / "mnist"), "--model", model, *extra],
                          capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    epochs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not epochs:
        raise MnistDesktopError(f"torch reference failed: {proc.stderr.strip().splitlines()[-1:]}")
    return {"epochs": epochs, "process_seconds": round(wall, 2)}


def bench_torch(torch_python: str | None, data: Path | None, pairs: int = MLP_PAIRS) -> dict[str, Any] | None:
    """PyTorch CPU reference (../shared/bench/torch_reference.py) in its own venv.

    cnn: one-cycle over 3 epochs reaches 99 % at epoch 3 (2 epochs stop at ~98.9 %).
    mlp: ``pairs`` alternating runs of our ``train --model mlp`` and the reference,
    each engine for as many epochs as our recipe, so both get as many epochs to
    show their best. Each pair also runs ours with ``--outlier-exposure 0``: the
    default recipe trains on a quarter batch of non-digits per step besides the
    digits (issue 16), which the reference does not, so that run is the
    same-work engine comparison and the default one the recipe comparison.
    """
    script = Path(__file__).resolve().parents[3] / "shared" / "bench" / "torch_reference.py"
    if not torch_python or not data or not script.exists():
        return None
    from mnist_desktop.core.training.trainer import DEFAULT_CONFIGS

    out: dict[str, Any] = {"cnn": _torch_reference(torch_python, script, data, "cnn", ["--epochs", "3", "--target", "0.99"])}
    mlp_epochs = str(int(math.ceil(DEFAULT_CONFIGS["mlp"].epochs)))
    out["mlp_pairs"] = []
    with tempfile.TemporaryDirectory() as tmp:
        ours_cmd = _app_cmd("train", "--dataset", "mnist", "--data-dir", str(data), "--model", "mlp", "--json",
                            "--out", str(Path(tmp) / "mlp.ckpt"))
        for _ in range(pairs):
            ours, _ = _run_json(ours_cmd, timeout=1800)
            same, _ = _run_json([*ours_cmd, "--outlier-exposure", "0"], timeout=1800)
            theirs = _torch_reference(torch_python, script, data, "mlp", ["--epochs", mlp_epochs])
            out.setdefault("mlp", theirs)  # the first run's epochs, for the table
            out["mlp_pairs"].append({"ours": ours["epoch_samples_per_s"], "ours_same_work": same["epoch_samples_per_s"],
                                     "torch": [e["samples_per_s"] for e in theirs["epochs"]]})
    return out


def _print_table(report: dict[str, Any]) -> None:
    print(f"mnist-desktop bench — {report['machine']['device']}, {report['machine']['cpus']} CPUs, {report['machine']['python']}")
    train = report.get("train")
    if train:
        print(f"\nTraining with default recipes on {train['dataset']} (fresh process each, compile included)")
        print(f"  {'model':7} {'seed':>4} {'cache':>5} {'epochs':>6} {'test acc':>9} {'train s':>8} {'process s':>9} {'samples/s':>10} {'peak RSS':>9}")
        for r in train["runs"]:
            rss = f"{r['peak_rss_mb']:.0f} MB" if r.get("peak_rss_mb") else "-"
            sps = f"{r['samples_per_s']:,.0f}" if r.get("samples_per_s") else "-"
            print(f"  {r['model']:7} {r['seed']:>4} {r.get('cache', 'warm'):>5} {r['epochs']:>6} {r['test_accuracy']:>9.2%} "
                  f"{r['train_seconds']:>8.1f} {r['process_seconds']:>9.1f} {sps:>10} {rss:>9}")
        for r in train["runs"]:
            if r.get("epoch_samples_per_s"):
                rates = ", ".join(f"{v / 1000:.0f}k" for v in r["epoch_samples_per_s"])
                print(f"  {r['model']} seed {r['seed']} samples/s per epoch (the first includes compilation): {rates}")
        _print_phases(train["runs"])
        _print_curves(train.get("time_to_accuracy") or [])
    inf = report.get("inference")
    if inf:
        print(f"\nSingle-image inference ({inf['model']}, 560×560 canvas → preprocess → forward)")
        for key in [k for k in inf if k == "predict" or k.startswith("+")]:
            v = inf[key]
            print(f"  {key:38} p50 {v['p50_ms']:.3f} ms   p99 {v['p99_ms']:.3f} ms   (preprocess p50 {v['preprocess_p50_ms']:.3f} ms)")
    if report.get("analysis"):
        from mnist_desktop.bench.analysis import print_analysis

        print_analysis(report["analysis"])
    if report.get("compare"):
        from mnist_desktop.bench.compare_bench import print_compare

        print_compare(report["compare"])
    st = report.get("startup")
    if st:
        w = st["warm_cache"]
        print(f"\nStart-up (warm compilation cache, median of {len(st.get('warm_runs', [w]))}): window visible {w['visible_s']:.2f} s, "
              f"first prediction {w['first_prediction_s']:.2f} s, JAX model ready {w['model_s']:.2f} s  "
              f"(first run: {st['first_run']['first_prediction_s']:.2f} s / {st['first_run']['model_s']:.2f} s)")
    stall = report.get("stall")
    if stall:
        print(f"\nGUI event-loop stalls while training: max {stall.get('max_ms', float('nan')):.1f} ms, "
              f"p99 {stall.get('p99_ms', float('nan')):.1f} ms over {stall.get('seconds', '?')} s")
    torch = report.get("torch")
    if torch:
        print("\nPyTorch CPU reference (same machine, same session)")
        for model in ("cnn", "mlp"):
            if model not in torch:
                continue
            r = torch[model]
            last = r["epochs"][-1]
            rates = ", ".join(f"{e['samples_per_s'] / 1000:.0f}k" for e in r["epochs"])
            print(f"  {model:4} {len(r['epochs'])} epoch(s): test acc {last['test_accuracy']:.2%}, wall {last['wall_s']:.1f} s, "
                  f"process {r['process_seconds']:.1f} s; samples/s per epoch {rates}")
        for i, p in enumerate(torch.get("mlp_pairs", []), 1):
            same = (f"; without outlier exposure (the reference's work) {max(p['ours_same_work']):,} → "
                    f"{max(p['ours_same_work']) / max(p['torch']):.2f}×") if p.get("ours_same_work") else ""
            print(f"  mlp pair {i}: ours best epoch {max(p['ours']):,} samples/s, torch best epoch {max(p['torch']):,} "
                  f"→ {max(p['ours']) / max(p['torch']):.2f}×{same}")
        for k, v in report.get("ratios", {}).items():
            print(f"  ratio {k}: {v:.2f}×")
    soak = report.get("soak")
    if soak:
        print(f"\nSoak: {soak['cycles']} start/stop cycles + {soak['predictions']} predictions in {soak['seconds']:.0f} s: "
              f"RSS {soak['rss_after_warmup_mb']:.0f} → {soak['rss_end_mb']:.0f} MB (growth {soak['rss_growth_mb']:+.1f} MB), "
              f"threads {soak['threads_start']} → {soak['threads_end']}, open files {soak['fds_start']} → {soak['fds_end']}")


def _print_phases(runs: list[dict[str, Any]]) -> None:
    """Where the first warm-cache default CNN run's wall time went (``train --json`` reports the phases)."""
    run = next((r for r in runs if r["model"] == "cnn" and r.get("phases") and r.get("cache", "warm") == "warm"), None)
    if run is None:
        return
    ph = run["phases"]
    print(f"  where cnn seed {run['seed']}'s process time went (s): "
          + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in ph.items())
          + f"; start-up and imports {run['process_seconds'] - sum(v for k, v in ph.items() if k != 'compile_background'):.2f}"
          + (" (compile background runs beside setup, not after it)" if "compile_background" in ph else ""))


def _print_curves(curves: list[dict[str, Any]]) -> None:
    """The time-to-accuracy curves of the default and the previous CNN recipe, one line each, aligned."""
    rows = [c for c in curves if c.get("curve")]
    if not rows:
        return
    print("  time-to-accuracy (test set after each epoch; train seconds, the tracked passes included):")
    for c in rows:
        pts = "   ".join(f"ep {p['epoch']}: {p['seconds']:5.1f} s → {p['test_accuracy']:.2%}" for p in c["curve"])
        oe = f", outlier exposure {c['outlier_exposure']:g}" if c.get("outlier_exposure") is not None else ""
        print(f"    {c['recipe']:8} ({c['epochs']:g} epochs, peak lr {c['learning_rate']:g}{oe}, seed {c['seed']}): {pts}")


def _ratios(report: dict[str, Any]) -> dict[str, float]:
    torch, train = report.get("torch"), report.get("train")
    if not torch:
        return {}
    ratios = {}
    cnn = [r for r in train["runs"] if r["model"] == "cnn" and r.get("cache", "warm") == "warm"] if train else []
    if cnn and "cnn" in torch:
        t_last = torch["cnn"]["epochs"][-1]
        ours = max(r["train_seconds"] for r in cnn)  # slowest seed, compile included
        reached = "99 %" if t_last["test_accuracy"] >= 0.99 else f"{t_last['test_accuracy']:.2%}"
        ratios[f"cnn time to {reached} (torch wall / our slowest train s)"] = t_last["wall_s"] / ours
        ratios["cnn whole process (torch / our slowest)"] = torch["cnn"]["process_seconds"] / max(r["process_seconds"] for r in cnn)
    pairs = torch.get("mlp_pairs")
    if pairs:
        # best epoch against best epoch, the same number of epochs each: a shared
        # machine's noise only ever slows a run down, so the fastest epoch is the
        # steadiest estimate of what each engine can do (as timeit takes the minimum)
        best = [max(p["ours"]) / max(p["torch"]) for p in pairs]
        ratios[f"mlp epoch samples/s, best epoch (ours / torch), median of {len(pairs)} pairs"] = float(np.median(best))
        ratios["mlp epoch samples/s, best epoch, lowest pair"] = min(best)
        ratios["mlp epoch samples/s, median epoch, median of pairs"] = float(np.median(
            [np.median(p["ours"]) / np.median(p["torch"]) for p in pairs]))
        same = [max(p["ours_same_work"]) / max(p["torch"]) for p in pairs if p.get("ours_same_work")]
        if same:
            ratios[f"mlp same work as the reference (no outlier exposure), best epoch, median of {len(same)} pairs"] = \
                float(np.median(same))
    return ratios


def run_bench(args: argparse.Namespace) -> int:
    from mnist_desktop.core.jax_setup import device_description

    suite = args.suite
    if suite not in (*SUITES, "all"):
        raise MnistDesktopError(f"unknown suite {suite!r}; choose all, {', '.join(SUITES)}")
    suites = DEFAULT_SUITES if suite == "all" else (suite,)
    data = _data_dir(args)
    seeds = [int(s) for s in str(getattr(args, "seeds", "0,1,2")).split(",")]
    report: dict[str, Any] = {"machine": {
        "device": device_description(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "data": str(data) if data else None,
    }}
    quick = bool(args.quick)
    for name in suites:
        if not args.json:
            print(f"[bench] running {name}…", file=sys.stderr, flush=True)
        if name == "train":
            report["train"] = bench_train(data, quick, seeds)
        elif name == "inference":
            report["inference"] = bench_inference(200 if quick else 3000)
        elif name == "analysis":
            from mnist_desktop.bench.analysis import bench_analysis

            report["analysis"] = bench_analysis(20 if quick else 200, data)
        elif name == "compare":
            from mnist_desktop.bench.compare_bench import bench_compare

            report["compare"] = bench_compare(100 if quick else 1000)
        elif name == "startup":
            report["startup"] = bench_startup()
        elif name == "stall":
            report["stall"] = bench_gui_probe("mnist_desktop.bench.stall_probe", ["--seconds", "5" if quick else "15"], 300)
        elif name == "torch":
            report["torch"] = bench_torch(getattr(args, "torch_python", None), data)
        elif name == "soak":
            cycles, preds = (10, 500) if quick else (200, 10_000)
            report["soak"] = bench_gui_probe("mnist_desktop.bench.soak", ["--cycles", str(cycles), "--predictions", str(preds)], 3600)
    report["ratios"] = _ratios(report)
    if not args.json:
        _print_table(report)
        print()
    print(json.dumps(report))
    return 0
