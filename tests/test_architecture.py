"""The layering rule: the core never loads Qt; no pickle anywhere."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import mnist_desktop.core

PACKAGE = Path(mnist_desktop.core.__file__).parent.parent


def test_importing_every_core_module_loads_no_qt():
    modules = [m.name for m in pkgutil.walk_packages(mnist_desktop.core.__path__, "mnist_desktop.core.")]
    assert "mnist_desktop.core.training.trainer" in modules and "mnist_desktop.core.data.preprocess" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt modules: {out.stdout.strip()}"


def test_no_pickle_or_eval_in_the_package():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        pk = "pick" + "le"  # spelled apart so repository greps for the word find only real uses
        for pattern in (rf"import {pk}", rf"{pk}\.load", rf"allow_{pk}\s*=\s*True", rf"cloud{pk}",
                        r"(?<![.\w])eval\(", r"(?<![.\w])exec\("):  # app.exec() is Qt's event loop, fine
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(PACKAGE)}: {pattern}")
    assert offenders == []


def test_window_appears_before_jax_is_imported():
    """The window must show within ~2 s; JAX (and Haiku) load only after it is up."""
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from mnist_desktop.gui.app import make_application\n"
        "from mnist_desktop.gui.main_window import MainWindow\n"
        "app = make_application([])\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "print('loaded:' + ','.join(sorted(m for m in ('jax', 'haiku', 'optax') if m in sys.modules)))\n"
        "w.close()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = [line for line in out.stdout.splitlines() if line.startswith("loaded:")]
    assert loaded == ["loaded:"], f"imported before the window showed: {out.stdout.strip()}"
