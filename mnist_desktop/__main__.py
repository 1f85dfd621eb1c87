"""Entry point of the ``mnist-desktop`` console script and ``python -m mnist_desktop``."""

import sys

from mnist_desktop.cli.main import main as _cli_main


def main() -> None:
    sys.exit(_cli_main())


if __name__ == "__main__":
    main()
