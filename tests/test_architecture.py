"""The layering rules, checked statically; no pickle anywhere; the window before JAX."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import mnist_desktop

PACKAGE = Path(mnist_desktop.__file__).parent
REPO = PACKAGE.parent


def test_the_layer_contracts_hold():
    """import-linter's contracts in pyproject.toml: the core imports no GUI, CLI, bench or Qt;
    the GUI no entry point; views and panels never the main window (see ``lint-imports``)."""
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True) == 0


def test_the_contracts_see_lazy_imports():
    """Function-level imports are in the graph the contracts check, so a lazy Qt import in the core
    would break them (the CLI's ``gui`` command imports the window lazily: it must show up)."""
    import grimp

    graph = grimp.build_graph("mnist_desktop", include_external_packages=True)
    assert graph.direct_import_exists(importer="mnist_desktop.cli.main", imported="mnist_desktop.gui.app")
    core = {m for m in graph.modules if m.startswith("mnist_desktop.core")}
    assert "mnist_desktop.core.training.trainer" in core and "mnist_desktop.core.data.preprocess" in core
    for forbidden in ("PySide6", "shiboken6", "pyqtgraph", "mnist_desktop.gui", "mnist_desktop.cli"):
        assert not graph.chain_exists(importer="mnist_desktop.core", imported=forbidden, as_packages=True), forbidden


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
