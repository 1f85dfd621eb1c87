"""The layering rule: the core never loads Qt; no pickle anywhere."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import mnist_desktop.core

PACKAGE = Path(mnist_desktop.core.__file__).parent.parent


def test_importing_every_core_module_loads_no_qt():
    modules = [f"mnist_desktop.core.{m.name}" for m in pkgutil.iter_modules(mnist_desktop.core.__path__)]
    assert "mnist_desktop.core.training" in modules and "mnist_desktop.core.cli" in modules
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
        for needle in ("import pickle", "pickle.load", "allow_pickle=True", "cloudpickle", " eval(", "exec("):
            if needle in text:
                offenders.append(f"{path.relative_to(PACKAGE)}: {needle}")
    assert offenders == []
