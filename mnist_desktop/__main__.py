"""Entry point of the ``mnist-desktop`` console script and ``python -m mnist_desktop``.

SIGINT is caught before anything heavy is imported: a Ctrl-C during the
first seconds (numpy, JAX, Haiku imports) used to end in a traceback. It is
only recorded here; the CLI's guard (:mod:`mnist_desktop.cli.interrupt`)
takes over and exits with status 130 and one line.
"""

import signal
import sys

_early_interrupts: list[int] = []
import threading  # noqa: E402

if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, lambda signum, _frame: _early_interrupts.append(signum))

from mnist_desktop.cli.main import main as _cli_main  # noqa: E402 - after the handler on purpose


def main() -> None:
    sys.exit(_cli_main(early_interrupt=bool(_early_interrupts)))


if __name__ == "__main__":
    main()
