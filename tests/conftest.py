"""Shared test set-up: offscreen Qt, per-session user folders, data locations."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs
import pytest
from hypothesis import settings

# The fuzz tests draw the same examples on every run, so CI cannot fail on a
# draw no earlier run made; a bug they find goes into a named regression test
# (test_checkpoints.py has one). HYPOTHESIS_PROFILE=explore draws new examples.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the real user folders (downloads, saved models, settings) ...
_session_tmp = Path(tempfile.mkdtemp(prefix="mnist-desktop-tests-"))
os.environ["MNIST_DESKTOP_CACHE"] = str(_session_tmp / "cache")
os.environ["MNIST_DESKTOP_HOME"] = str(_session_tmp / "home")
os.environ["XDG_CONFIG_HOME"] = str(_session_tmp / "config")  # QSettings: window layout, last model, ...
os.environ.pop("MNIST_DESKTOP_DATA", None)
# ... but share the JAX compilation cache so repeated runs compile less.
os.environ.setdefault(
    "MNIST_DESKTOP_JAX_CACHE", str(Path(platformdirs.user_cache_dir("mnist-desktop")) / "jax-cache")
)

# Configure JAX as the app does (PRNG, cache) before any test runs, so random
# streams — and with them e.g. which step a diverging run blows up at — do not
# depend on whether an earlier test happened to open the main window.
from mnist_desktop.core.jax_setup import configure_jax  # noqa: E402

configure_jax()

@pytest.fixture(scope="session", autouse=True)
def _garbage_collected_on_the_main_thread():
    """As in the app (gui/main_thread_gc.py): no automatic collection, which could run on a
    worker's thread and destroy a Qt widget there (the suite hung that way: every thread idle)."""
    import gc

    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_between_tests():
    yield
    from mnist_desktop.gui.main_thread_gc import collect_if_due

    collect_if_due()


@pytest.fixture(autouse=True)
def _own_run_history(tmp_path, monkeypatch):
    """Each test starts with an empty saved run history of its own (runs persist across restarts)."""
    from mnist_desktop.core.training import run_log

    monkeypatch.setattr(run_log, "default_log_path", lambda: tmp_path / "runs.json")


@pytest.fixture(scope="session", autouse=True)
def _quit_without_asking():
    """Closing a window with a trained model asks "Save?" in a modal box, which would block a
    test forever offscreen; tests answer Discard. Session-wide, because module-scoped windows
    close after any function-scoped patch is gone. Tests marked ``quit_prompt`` drive the real box."""
    from PySide6.QtWidgets import QMessageBox

    from mnist_desktop.gui.quit_prompt import QuitGuard

    real = QuitGuard._ask
    QuitGuard._ask = lambda self, running, models: QMessageBox.StandardButton.Discard
    yield real
    QuitGuard._ask = real


@pytest.fixture(autouse=True)
def _real_quit_prompt_when_marked(request, monkeypatch, _quit_without_asking):
    if request.node.get_closest_marker("quit_prompt"):
        from mnist_desktop.gui.quit_prompt import QuitGuard

        monkeypatch.setattr(QuitGuard, "_ask", _quit_without_asking)


REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def training_window(qtbot, tmp_path, monkeypatch):
    """The main window with only the training dock, its worker started and the default model loaded."""
    from gui_helpers import open_main_window

    return open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("training",))


@pytest.fixture(scope="session")
def trained_logreg():
    """(params, dataset): logistic regression trained ~1 epoch on the bundled subset (a few seconds)."""
    from mnist_desktop.core.training.data_prep import train_data_from
    from mnist_desktop.core.data.datasets import load_dataset
    from mnist_desktop.core.training.trainer import DoneEvent, Trainer, default_config

    dataset = load_dataset("mnist-subset")
    trainer = Trainer(default_config("logreg", epochs=1, dataset="mnist-subset"), train_data_from(dataset))
    done = [event for event in trainer.run() if isinstance(event, DoneEvent)][0]
    assert done.test_accuracy is not None and done.test_accuracy > 0.8
    return done.params, dataset


@pytest.fixture(scope="session")
def bundled_model():
    """The bundled checkpoint (the CNN the app opens with)."""
    from mnist_desktop.core.models.checkpoints import load_checkpoint
    from mnist_desktop.core.paths import bundled_model_path

    return load_checkpoint(bundled_model_path())


@pytest.fixture(scope="session")
def mnist_subset():
    """The bundled MNIST subset (6,000 training and 1,000 test digits)."""
    from mnist_desktop.core.data.datasets import load_dataset

    return load_dataset("mnist-subset")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The full MNIST / Fashion-MNIST files beside the checkout, or skip."""
    if not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"full datasets not found at {SHARED_DATA} (fresh clone without ../shared/data)")
    return SHARED_DATA


@pytest.fixture
def object_array_npy() -> bytes:
    """A ``.npy`` file declaring an object (pickled) array, built by hand so the test
    suite itself never pickles: loaders must refuse it before reading the payload."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    buf.write(b"\x80\x04payload-that-must-never-be-unpickled.")
    return buf.getvalue()
