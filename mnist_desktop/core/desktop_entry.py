"""A Linux desktop menu entry for an installed mnist-desktop.

A wheel cannot put files in ``/usr/share/applications``, and ``pipx`` installs
into a private environment, so the entry is written per user on request
(``mnist-desktop desktop-entry``), following the freedesktop.org specs: the
``.desktop`` file in ``$XDG_DATA_HOME/applications`` and the icon in the
``hicolor`` theme under ``$XDG_DATA_HOME/icons``. ``Exec`` names the absolute
path of the launcher that wrote it, so the menu starts the same installation
even when it is not on the desktop session's ``PATH`` (pipx's ``~/.local/bin``
often is not).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.fileio import atomic_write_bytes
from mnist_desktop.core.paths import APP_NAME, resources_dir

ICON_NAME = APP_NAME


@dataclass(frozen=True)
class DesktopFiles:
    """Where the entry and its icons go for one user."""

    entry: Path
    svg_icon: Path
    png_icon: Path


def xdg_data_home() -> Path:
    """``$XDG_DATA_HOME`` or its default ``~/.local/share``."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def desktop_files(data_home: Path | None = None) -> DesktopFiles:
    base = data_home or xdg_data_home()
    icons = base / "icons" / "hicolor"
    return DesktopFiles(
        entry=base / "applications" / f"{APP_NAME}.desktop",
        svg_icon=icons / "scalable" / "apps" / f"{ICON_NAME}.svg",
        png_icon=icons / "256x256" / "apps" / f"{ICON_NAME}.png",
    )


def _quote_exec(path: str) -> str:
    """Quote a path for the ``Exec`` key (Desktop Entry spec, "The Exec key")."""
    if not any(c in path for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return path
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in path)
    return f'"{escaped}"'


def entry_text(launcher: str) -> str:
    """The ``.desktop`` file for ``launcher`` (absolute path of the console script)."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=MNIST Desktop",
        "GenericName=Digit recogniser",
        "Comment=Draw a digit and watch a JAX model read it; train models and look inside them",
        f"Exec={_quote_exec(launcher)} gui",
        f"TryExec={launcher}",
        f"Icon={ICON_NAME}",
        "Terminal=false",
        "Categories=Education;Science;ArtificialIntelligence;",
        "Keywords=MNIST;handwriting;neural network;machine learning;JAX;",
        "StartupWMClass=mnist-desktop",
        "",
    ])


def find_launcher() -> str:
    """Absolute path of the installed ``mnist-desktop`` script; a clear error if there is none."""
    found = shutil.which(APP_NAME)
    if not found:
        raise MnistDesktopError(
            f"no '{APP_NAME}' launcher on PATH; install the app first (pip install . or pipx install .) "
            "and run this command from the same environment")
    return str(Path(found).resolve())


def install_desktop_entry(launcher: str, data_home: Path | None = None) -> DesktopFiles:
    """Write the entry and both icons (atomically; existing copies are replaced)."""
    files = desktop_files(data_home)
    icons = resources_dir() / "icons"
    try:
        for target, content in ((files.svg_icon, (icons / f"{ICON_NAME}.svg").read_bytes()),
                                (files.png_icon, (icons / f"{ICON_NAME}.png").read_bytes()),
                                (files.entry, entry_text(launcher).encode("utf-8"))):
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, content)
    except OSError as err:
        raise MnistDesktopError(f"could not write the desktop entry: {err}") from None
    return files


def remove_desktop_entry(data_home: Path | None = None) -> list[Path]:
    """Delete what :func:`install_desktop_entry` wrote; returns the files removed."""
    files = desktop_files(data_home)
    removed = []
    for path in (files.entry, files.svg_icon, files.png_icon):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as err:
            raise MnistDesktopError(f"could not remove {path}: {err.strerror or err}") from None
        removed.append(path)
    return removed
