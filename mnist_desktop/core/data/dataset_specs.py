"""What the app knows about each dataset: its files, checksums, mirrors and class names.

Pure data (no file access): the loader (:mod:`.datasets`), the downloader and
the GUI's dataset pickers all read these specs, so adding a dataset is one entry
in :data:`DATASETS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from mnist_desktop.core.errors import DatasetError

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
DIGIT_NAMES: tuple[str, ...] = tuple(str(d) for d in range(NUM_CLASSES))  # "0".."9"
# The four roles every dataset has, in the order files are listed and fetched.
FILE_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset; ``sha256`` and ``size`` describe the DECOMPRESSED payload.

    Checking the payload rather than the ``.gz`` lets any mirror (or the user)
    re-compress the files without breaking verification.
    """

    filename: str
    sha256: str
    size: int

    def candidates(self) -> tuple[str, ...]:
        """Names the file may have on disk: gzipped, decompressed, and the dotted
        variant (``train-images.idx3-ubyte``) some redistributions use."""
        raw = self.filename.removesuffix(".gz")
        dotted = raw.replace("-idx", ".idx", 1)
        return (self.filename, raw, dotted)


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, fetch and verify one dataset."""

    name: str
    title: str
    class_names: tuple[str, ...]
    files: Mapping[str, FileSpec]  # keys: FILE_ROLES
    mirrors: tuple[str, ...] = ()  # base URLs, tried in order; empty = cannot be downloaded
    system_dirs: tuple[str, ...] = ()  # folders OS packages install the files into
    bundled_dir: str | None = None  # relative to resources/, for the bundled subset
    install_hint: str | None = None  # extra way to get the files, shown in errors

    @property
    def bundled(self) -> bool:
        return self.bundled_dir is not None




def _files(names: tuple[str, str, str, str], checksums: tuple[str, str, str, str],
           counts: tuple[int, int]) -> dict[str, FileSpec]:
    n_train, n_test = counts
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    sizes = (16 + n_train * pixels, 8 + n_train, 16 + n_test * pixels, 8 + n_test)
    return {role: FileSpec(fn, sha, size) for role, fn, sha, size in zip(FILE_ROLES, names, checksums, sizes)}


_STANDARD_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FASHION_MNIST_MIRRORS = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        class_names=DIGIT_NAMES,
        files=_files(
            _STANDARD_NAMES,
            (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
            (60000, 10000),
        ),
        mirrors=MNIST_MIRRORS,
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        class_names=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
        files=_files(
            _STANDARD_NAMES,
            (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
            (60000, 10000),
        ),
        mirrors=FASHION_MNIST_MIRRORS,
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        install_hint="on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist",
    ),
    "mnist-subset": DatasetSpec(
        name="mnist-subset",
        title="MNIST (bundled subset)",
        class_names=DIGIT_NAMES,
        # Made by make_subset(<MNIST folder>, resources/data/mnist-subset) with its defaults.
        files=_files(
            _STANDARD_NAMES,
            (
                "2552e7ed83db49429bfbe826379a0d9d4332bc8baeab0bf6ac46314b61bbc940",
                "d57fd2c35c7d79943bbbdad853489a0fa992aee7fc28208cca2481eabbcc2d65",
                "7f2ba90f83cef36b1c915eaa41461af190f186f7ac6cc72d75136e4fbcdb64a5",
                "a6418679c72702ef42e5e405599252ef845d42cd933bb3d3013a2ffd1c9cc235",
            ),
            (6000, 1000),
        ),
        bundled_dir="data/mnist-subset",
    ),
}


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """Look a dataset up by name (specs pass through, so tests can inject their own)."""
    if isinstance(name, DatasetSpec):
        return name
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}") from None


def available_datasets() -> list[tuple[str, str]]:
    """(name, title) of every known dataset, for menus and ``--help``."""
    return [(spec.name, spec.title) for spec in DATASETS.values()]


def class_names_for(names: Sequence[str] | None, count: int = NUM_CLASSES) -> list[str]:
    """``names`` when there is one per class, else the digits "0".."count-1".

    The one fallback for models and results that carry no (or mismatched) class
    names: every view labels classes through this.
    """
    listed = [str(name) for name in names or ()]
    return listed if len(listed) == count else [str(i) for i in range(count)]
