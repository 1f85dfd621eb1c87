"""What a user installing the app gets: bundled resources found, a desktop entry, sample digits read."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mnist_desktop.core import desktop_entry, paths
from mnist_desktop.core.errors import MnistDesktopError

REPO = Path(__file__).resolve().parents[1]


def test_source_checkout_reads_the_repositorys_resources(monkeypatch):
    monkeypatch.delenv("MNIST_DESKTOP_RESOURCES", raising=False)
    assert paths.resources_dir() == REPO / "resources"
    assert paths.bundled_model_path().is_file()


def test_an_installed_package_reads_its_own_resources(monkeypatch, tmp_path):
    """Installed from a wheel, mnist_desktop/resources exists and wins over any checkout."""
    monkeypatch.delenv("MNIST_DESKTOP_RESOURCES", raising=False)
    (tmp_path / "mnist_desktop" / "resources" / "models").mkdir(parents=True)
    monkeypatch.setattr(paths.importlib.resources, "files", lambda package: tmp_path / package)
    assert paths.resources_dir() == tmp_path / "mnist_desktop" / "resources"
    assert paths.bundled_model_path() == tmp_path / "mnist_desktop" / "resources" / "models" / "default.ckpt"


def test_the_wheel_maps_every_resource_into_the_package():
    """The build config puts resources/ at mnist_desktop/resources, which resources_dir() reads."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]
    assert config["wheel"]["force-include"] == {"resources": "mnist_desktop/resources"}
    assert "resources" in config["sdist"]["include"]
    for needed in ("models/default.ckpt", "icons/mnist-desktop.svg", "icons/mnist-desktop.png",
                   "samples/seven.png", "data/mnist-subset/train-images-idx3-ubyte.gz"):
        assert (REPO / "resources" / needed).is_file(), needed


def test_desktop_entry_installs_and_removes_per_user(tmp_path):
    launcher = "/opt/my apps/bin/mnist-desktop"
    files = desktop_entry.install_desktop_entry(launcher, data_home=tmp_path)
    text = files.entry.read_text()
    assert files.entry == tmp_path / "applications" / "mnist-desktop.desktop"
    assert 'Exec="/opt/my apps/bin/mnist-desktop" gui' in text  # quoted: the path has a space
    assert "Icon=mnist-desktop" in text and text.startswith("[Desktop Entry]\n")
    assert files.svg_icon.read_bytes() == (REPO / "resources" / "icons" / "mnist-desktop.svg").read_bytes()
    assert files.png_icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(desktop_entry.remove_desktop_entry(tmp_path)) == {files.entry, files.svg_icon, files.png_icon}
    assert not files.entry.exists()
    assert desktop_entry.remove_desktop_entry(tmp_path) == []


def test_desktop_entry_needs_an_installed_launcher(monkeypatch):
    monkeypatch.setattr(desktop_entry.shutil, "which", lambda name: None)
    with pytest.raises(MnistDesktopError, match="install the app first"):
        desktop_entry.find_launcher()


def test_xdg_data_home_is_honoured_only_when_absolute(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert desktop_entry.xdg_data_home() == tmp_path
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")  # the spec says: ignore relative paths
    assert desktop_entry.xdg_data_home() == Path.home() / ".local" / "share"


@pytest.mark.parametrize("sample, label", [("seven.png", "7"), ("mnist-test-3.png", "3")])
def test_bundled_sample_digits_are_read_by_the_bundled_model(sample, label, capsys):
    from mnist_desktop.cli.main import main

    assert main(["predict", str(paths.resources_dir() / "samples" / sample)]) == 0
    assert capsys.readouterr().out.split(": ", 1)[1].startswith(f"{label} (")
