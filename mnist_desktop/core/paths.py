"""Where things live on disk: bundled resources and per-user folders.

platformdirs gives the right cache/data/config folders on Linux, macOS and
Windows, so user files never land in the working directory.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import platformdirs

APP_NAME = "mnist-desktop"


def resources_dir() -> Path:
    """The bundled model, data subset, icons and sample digits.

    Installed from a wheel, sdist or pipx they are ``mnist_desktop/resources``
    inside the package (the build maps the repository's top-level
    ``resources/`` there, see pyproject.toml). In a source checkout and an
    editable install the package has no such folder and the repository's own
    ``resources/`` is used. ``$MNIST_DESKTOP_RESOURCES`` overrides both.
    """
    override = os.environ.get("MNIST_DESKTOP_RESOURCES")
    if override:
        return Path(override)
    packaged = importlib.resources.files("mnist_desktop") / "resources"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "resources"


def user_cache_dir() -> Path:
    """Downloaded datasets and the JAX compilation cache; safe to delete."""
    override = os.environ.get("MNIST_DESKTOP_CACHE")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def user_data_dir() -> Path:
    """Things the user made and would miss: saved models, drawings of the person."""
    override = os.environ.get("MNIST_DESKTOP_HOME")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def bundled_model_path() -> Path:
    """The default model loaded at start-up."""
    return resources_dir() / "models" / "default.ckpt"
