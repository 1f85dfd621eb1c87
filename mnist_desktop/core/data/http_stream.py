"""One HTTP response read with deadlines and a cancel that answers at once.

Why a helper thread: a socket timeout only fires when *no* byte arrives for
that long, so a server trickling 1 byte/s never times out, and a blocking
``read`` cannot look at the cancel flag while it waits -- the GUI's Cancel did
nothing for over a minute while the worker (which also serves live
predictions) was stuck. Here a daemon thread does the blocking connect and
reads and hands chunks over a small queue; the calling thread waits on the
queue in short slices, so it checks, every :data:`POLL_S`:

* ``cancel()`` -- answered within ``POLL_S`` (0.1 s), during connect or read;
* the per-read deadline -- no data at all for ``timeout`` seconds;
* a rate floor -- fewer than ``min_rate`` bytes/s over a ``2 * timeout`` window
  (what catches the trickle);
* a total deadline for the whole response.

On any of these the caller leaves at once; the thread notices the stop flag
(or its socket timeout) and closes the connection on its own.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import urllib.request
from email.message import Message
from typing import Callable, Iterator

POLL_S = 0.1
READ_CHUNK = 64 * 1024
MIN_RATE = 1024  # bytes per second; slower than this over a whole window is a stalled mirror


class StreamFailure(Exception):
    """The response could not be read in time; ``transient`` says a retry may help."""

    def __init__(self, message: str, transient: bool = True):
        super().__init__(message)
        self.transient = transient


class Cancelled(Exception):
    """``cancel()`` returned True while waiting."""


class ResponseStream:
    """Open ``request`` with ``opener`` in a helper thread; iterate :meth:`chunks`.

    Raises (from :meth:`open` / :meth:`chunks`) whatever urllib raised in the
    thread, :class:`StreamFailure` for a missed deadline and :class:`Cancelled`.
    """

    def __init__(self, opener: urllib.request.OpenerDirector, request: urllib.request.Request, *,
                 timeout: float, cancel: Callable[[], bool] | None = None,
                 total_timeout: float | None = None, min_rate: float = MIN_RATE):
        self.timeout = timeout
        self.cancel = cancel
        self.min_rate = min_rate
        self._deadline = None if total_timeout is None else time.monotonic() + total_timeout
        self._total_timeout = total_timeout
        self._queue: queue.Queue = queue.Queue(maxsize=16)
        self._stop = threading.Event()
        self._response = None
        self.headers: Message = Message()
        self.status = 0
        self._window_start, self._window_bytes = time.monotonic(), 0
        self._thread = threading.Thread(target=self._pump, args=(opener, request), daemon=True,
                                        name="mnist-desktop-download")
        self._thread.start()

    # -- the helper thread --------------------------------------------------
    def _put(self, item: tuple) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def _pump(self, opener: urllib.request.OpenerDirector, request: urllib.request.Request) -> None:
        try:
            response = opener.open(request, timeout=self.timeout)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which decides
            self._put(("error", exc))
            return
        self._response = response
        try:
            self._put(("open", response))
            while not self._stop.is_set():
                chunk = response.read1(READ_CHUNK)  # returns as soon as some bytes are there
                self._put(("data", chunk) if chunk else ("end", None))
                if not chunk:
                    return
        except BaseException as exc:  # noqa: BLE001
            self._put(("error", exc))
        finally:
            with contextlib.suppress(Exception):
                response.close()

    # -- the caller's side ---------------------------------------------------
    def _next(self, waiting_since: float) -> tuple:
        while True:
            if self.cancel is not None and self.cancel():
                raise Cancelled()
            now = time.monotonic()
            if self._deadline is not None and now > self._deadline:
                raise StreamFailure(f"took longer than {self._total_timeout:g} s in total", True)
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if time.monotonic() - waiting_since > self.timeout:
                    raise StreamFailure(f"timed out (no data for {self.timeout:g} s)", True) from None
                if self.headers.keys():
                    self._check_rate()
                continue
            if item[0] == "error":
                raise item[1]
            return item

    def open(self) -> "ResponseStream":
        """Wait for the status line and headers."""
        _kind, response = self._next(time.monotonic())
        self.status = getattr(response, "status", 200)
        self.headers = response.headers
        self._window_start, self._window_bytes = time.monotonic(), 0
        return self

    def _check_rate(self) -> None:
        window = 2 * self.timeout
        elapsed = time.monotonic() - self._window_start
        if elapsed < window:
            return
        if self._window_bytes < self.min_rate * elapsed:
            raise StreamFailure(f"too slow: {self._window_bytes} bytes in {elapsed:.1f} s "
                                f"(under {self.min_rate / 1024:g} kB/s); the mirror is stalled", True)
        self._window_start, self._window_bytes = time.monotonic(), 0

    def chunks(self) -> Iterator[bytes]:
        last = time.monotonic()
        while True:
            kind, chunk = self._next(last)
            if kind == "end":
                return
            last = time.monotonic()
            self._window_bytes += len(chunk)
            self._check_rate()
            yield chunk

    def close(self) -> None:
        """Stop the helper thread; a blocked read is woken by shutting its socket down."""
        self._stop.set()
        response = self._response
        sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> "ResponseStream":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
