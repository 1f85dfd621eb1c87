"""Downloading datasets from their official mirrors, verified, never half-written.

Each file streams into a temporary file beside its destination while being
decompressed and hashed on the fly: the payload's sha256 and size are known
from the :class:`~mnist_desktop.core.data.datasets.FileSpec`, so a wrong or damaged
file is caught without a second pass, a gzip bomb is cut off at the expected
size, and progress can be reported against an exact total. Only a verified file
is renamed into place; the temporary file is removed whatever happens.

Mirrors are tried in order; transient failures (timeouts, dropped connections,
5xx) get one retry per mirror. Only ``https://`` is allowed (plain ``http://``
only to the loopback host, for tests), including redirect targets; the
checksums protect integrity either way, but there is no reason to leak what a
user downloads.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import Callable, Sequence

from mnist_desktop import __version__
from mnist_desktop.core.data.datasets import (
    CancelCallback,
    DatasetSpec,
    FileSpec,
    ProgressCallback,
    checksum_mismatch_message,
    default_download_dir,
    find_file,
    get_spec,
    verify_file,
)
from mnist_desktop.core.data.http_stream import Cancelled, ResponseStream, StreamFailure
from mnist_desktop.core.errors import DatasetError, DownloadCancelled, DownloadError

log = logging.getLogger(__name__)

USER_AGENT = f"mnist-desktop/{__version__} (+urllib)"
RETRY_DELAY_S = 1.0  # pause before the one retry of a transient failure
STALE_TEMP_AGE_S = 3600  # leftovers of a killed process older than this are swept
_CHUNK = 64 * 1024
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_TEMP_SUFFIX = ".part"


# ---------------------------------------------------------------- URLs


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise ValueError(f"refusing URL {url!r}: only https:// is allowed (http:// only for localhost)")


def check_mirror(url: str) -> str:
    """Validate a mirror base URL and return it with a trailing slash; ValueError if not https."""
    _check_url(url)
    return url if url.endswith("/") else url + "/"


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs a mirror itself could have (no https -> http downgrade)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        try:
            _check_url(newurl)
        except ValueError as exc:
            raise urllib.error.HTTPError(newurl, code, str(exc), headers, fp) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(url: str) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [_HttpsOnlyRedirects()]
    if urllib.parse.urlsplit(url).hostname in _LOOPBACK_HOSTS:
        handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our loopback
    return urllib.request.build_opener(*handlers)


# ---------------------------------------------------------------- verification while streaming


class _PayloadCheck:
    """Decompress (if gzip), count and hash bytes as they arrive.

    Output is capped one byte past the expected size, so a bomb costs at most
    that much; whether the body is gzip is sniffed from its first two bytes,
    since a mirror may serve the raw payload.
    """

    def __init__(self, fspec: FileSpec, source: str):
        self.fspec = fspec
        self.source = source
        self.size = 0
        self.gzipped: bool | None = None
        self._sha = hashlib.sha256()
        self._head = b""
        self._inflater = zlib.decompressobj(31)
        self._in_member = False

    def feed(self, chunk: bytes) -> None:
        if self.gzipped is None:
            self._head += chunk
            if len(self._head) < 2:
                return
            chunk, self._head = self._head, b""
            self.gzipped = chunk[:2] == b"\x1f\x8b"
        if not self.gzipped:
            self._take(chunk)
            return
        try:
            self._inflate(chunk)
        except zlib.error as exc:
            raise DatasetError(f"{self.source} sent damaged gzip data ({exc})") from None

    def _inflate(self, data: bytes) -> None:
        while data:
            self._in_member = True
            out = self._inflater.decompress(data, self.fspec.size - self.size + 1)
            self._take(out)
            if self._inflater.eof:  # end of a gzip member; another may follow (RFC 1952)
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(31)
                self._in_member = False
                if not data.strip(b"\0"):  # zero padding after the last member is allowed
                    data = b""
            else:
                data = self._inflater.unconsumed_tail

    def _take(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.fspec.size:
            raise DatasetError(
                f"{self.source} holds more than the expected {self.fspec.size} bytes; it is not {self.fspec.filename}"
            )
        self._sha.update(data)

    def finish(self) -> None:
        """Raise DatasetError unless the whole payload arrived and matches."""
        if self.gzipped is None or (self.gzipped and self._in_member):
            raise DatasetError(f"{self.source} ended early (truncated gzip data)")
        if self.size != self.fspec.size:
            raise DatasetError(f"{self.source} holds {self.size} bytes, expected {self.fspec.size}")
        digest = self._sha.hexdigest()
        if digest != self.fspec.sha256:
            raise DatasetError(checksum_mismatch_message(self.source, digest, self.fspec, advice=""))


# ---------------------------------------------------------------- one file from one URL


class _Failure(Exception):
    """One attempt failed; ``transient`` says whether retrying the same mirror may help."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


class _LocalError(Exception):
    """Writing to the destination failed: no mirror can fix that."""


def _check_cancel(cancel: CancelCallback | None) -> None:
    if cancel is not None and cancel():
        raise DownloadCancelled("download cancelled; nothing half-written was kept")


def _describe(exc: BaseException, timeout: float) -> _Failure:
    """Turn urllib's zoo of exceptions into one line for the user and a retry decision."""
    if isinstance(exc, urllib.error.HTTPError):
        transient = exc.code >= 500 or exc.code in (408, 429)
        return _Failure(f"HTTP {exc.code} {exc.reason}", transient)
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return _Failure(f"timed out (no data for {timeout:g} s)", True)
    if isinstance(reason, ConnectionRefusedError):
        return _Failure("connection refused", False)
    if isinstance(reason, socket.gaierror):
        return _Failure(f"host not found ({reason.strerror or reason})", False)
    if isinstance(reason, http.client.IncompleteRead):
        return _Failure(f"connection closed early ({len(reason.partial)} bytes received)", True)
    if isinstance(reason, (OSError, http.client.HTTPException)):
        return _Failure(f"connection failed ({reason.__class__.__name__}: {reason})", True)
    return _Failure(str(reason), False)


def _sniff_web_page(head: bytes, content_type: str, url: str, fspec: FileSpec) -> None:
    """A login page, a 'moved' notice or a CDN error page often comes with status 200."""
    text = head.lstrip()[:64].lower()
    if content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml") or \
            text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        raise DatasetError(
            f"{url} answered with a web page ({content_type or 'HTML'}), not the data file {fspec.filename}; "
            "the mirror may have moved or ask for a login: check the address, or use another mirror")


class _TransportDecoder:
    """Undo ``Content-Encoding: gzip`` (a server compressing on the fly), capped in size."""

    def __init__(self, encoding: str, limit: int, url: str):
        encoding = encoding.strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise DatasetError(f"{url} sent Content-Encoding {encoding!r}, which this app cannot decode")
        self._inflater = None if encoding in ("", "identity") else zlib.decompressobj(
            31 if "gzip" in encoding else 47)
        self._limit, self._out, self._url = limit, 0, url

    def decode(self, chunk: bytes) -> bytes:
        if self._inflater is None:
            return chunk
        try:
            data = self._inflater.decompress(chunk, self._limit - self._out + 1)
        except zlib.error as exc:
            raise DatasetError(f"{self._url} sent damaged compressed data ({exc})") from None
        self._out += len(data)
        if self._out > self._limit or self._inflater.unconsumed_tail:
            raise DatasetError(f"{self._url} sent more data than the file can hold; it is not the dataset file")
        return data


def _fetch(
    url: str,
    fspec: FileSpec,
    dest: Path,
    timeout: float,
    cancel: CancelCallback | None,
    on_payload_bytes: Callable[[int], None],  # decompressed bytes of this file so far
    total_timeout: float | None = None,
) -> Path:
    """Download ``url`` into ``dest`` verified against ``fspec``; return the final path."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{fspec.filename}.", suffix=_TEMP_SUFFIX, dir=dest)
    except OSError as exc:
        raise _LocalError(f"cannot write to {dest}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, identity"})
            stream = ResponseStream(_opener(url), request, timeout=timeout, cancel=cancel, total_timeout=total_timeout)
            with stream:
                header = stream.headers.get("Content-Length")
                expected = int(header) if header and header.isdigit() else None
                transport = _TransportDecoder(stream.headers.get("Content-Encoding", ""), fspec.size + (1 << 20), url)
                check = _PayloadCheck(fspec, url)
                received, sniffed = 0, False
                for raw in stream.chunks():
                    received += len(raw)
                    chunk = transport.decode(raw)
                    if not sniffed and chunk:
                        _sniff_web_page(chunk, stream.headers.get("Content-Type", ""), url, fspec)
                        sniffed = True
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise _LocalError(f"cannot write {tmp}: {exc.strerror or exc}") from None
                    check.feed(chunk)
                    on_payload_bytes(check.size)
                if expected is not None and received != expected:
                    raise _Failure(f"connection closed after {received} of {expected} bytes", True)
                check.finish()
            final = dest / (fspec.filename if check.gzipped else fspec.filename.removesuffix(".gz"))
            try:
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                raise _LocalError(f"cannot write {tmp}: {exc.strerror or exc}") from None
        try:
            os.replace(tmp, final)
        except OSError as exc:
            raise _LocalError(f"cannot write {final}: {exc.strerror or exc}") from None
        return final
    except Cancelled:
        raise DownloadCancelled("download cancelled; nothing half-written was kept") from None
    except StreamFailure as exc:
        raise _Failure(str(exc), exc.transient) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# ---------------------------------------------------------------- the dataset


def _sweep_stale_temps(dest: Path, fspec: FileSpec) -> None:
    """Remove temp files a killed process left; young ones may belong to a running download."""
    cutoff = time.time() - STALE_TEMP_AGE_S
    for leftover in dest.glob(f".{fspec.filename}.*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _already_valid(dest: Path, fspec: FileSpec) -> bool:
    existing = find_file(dest, fspec)
    if existing is None:
        return False
    try:
        verify_file(existing, fspec)
    except DatasetError as exc:
        log.warning("re-downloading %s: %s", existing, exc)
        return False
    return True


def _remove_other_variants(dest: Path, fspec: FileSpec, keep: Path) -> None:
    """A bad old copy under another accepted name must not shadow the new one."""
    for name in fspec.candidates():
        other = dest / name
        if other != keep:
            with contextlib.suppress(FileNotFoundError):
                other.unlink()


def _sleep(seconds: float, cancel: CancelCallback | None) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        _check_cancel(cancel)
        time.sleep(min(left, 0.1))


def download_dataset(
    name: str | DatasetSpec,
    dest_dir: str | os.PathLike | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 20,
    total_timeout: float | None = 1800,
) -> Path:
    """Download the dataset's files into ``dest_dir`` (default: the per-user cache) and return it.

    Files already there and valid are kept. ``progress(done, total)`` counts
    decompressed payload bytes of the files being fetched (``total`` is exact
    here; it may drop back when a mirror fails mid-file and the next is tried).
    ``cancel()`` returning True stops with DownloadCancelled; files completed
    and verified before that are kept (it is answered within 0.1 s, also while
    connecting or waiting for data). ``timeout`` is per network operation, in
    seconds; a mirror slower than 1 kB/s over two such windows counts as stalled,
    and ``total_timeout`` bounds each file's whole transfer. Raises ValueError for a non-https mirror, DownloadError when
    every mirror fails for a file.
    """
    spec = get_spec(name)
    bases = [check_mirror(m) for m in (spec.mirrors if mirrors is None else mirrors)]
    if not bases:
        raise DatasetError(f"{spec.title} cannot be downloaded: it has no mirrors (bundled: {spec.bundled})")
    dest = Path(dest_dir).expanduser() if dest_dir is not None else default_download_dir(spec)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create {dest}: {exc.strerror or exc}") from None

    for fspec in spec.files.values():
        _sweep_stale_temps(dest, fspec)
    todo = [f for f in spec.files.values() if not _already_valid(dest, f)]
    total = sum(f.size for f in todo)
    done = 0
    if progress is not None and todo:
        progress(0, total)
    for fspec in todo:
        report = (lambda n, base=done: progress(base + n, total)) if progress else (lambda n: None)
        final = _fetch_from_mirrors(spec, fspec, bases, dest, (timeout, total_timeout), cancel, report)
        _remove_other_variants(dest, fspec, final)
        done += fspec.size
    return dest


def _fetch_from_mirrors(
    spec: DatasetSpec,
    fspec: FileSpec,
    bases: list[str],
    dest: Path,
    timeouts: tuple[float, float | None],
    cancel: CancelCallback | None,
    report: Callable[[int], None],
) -> Path:
    timeout, total_timeout = timeouts
    failures: list[str] = []
    network_trouble = False  # did any mirror fail to answer (vs. answer with the wrong thing)?
    for base in bases:
        url = base + fspec.filename
        for attempt in (1, 2):
            _check_cancel(cancel)
            try:
                return _fetch(url, fspec, dest, timeout, cancel, report, total_timeout)
            except DownloadCancelled:
                raise
            except _LocalError as exc:
                raise DatasetError(str(exc)) from None
            except DatasetError as exc:  # wrong/damaged content: this mirror will not do better
                failure = _Failure(str(exc).removeprefix(url).strip(), False)
            except _Failure as exc:
                failure = exc
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                failure = _describe(exc, timeout)
                if isinstance(exc, urllib.error.HTTPError):
                    exc.close()  # it holds the response
            network_trouble = network_trouble or failure.transient or "refused" in str(failure) \
                or "not found" in str(failure)
            log.info("download of %s failed (try %d): %s", url, attempt, failure)
            if not (failure.transient and attempt == 1):
                failures.append(f"{url}: {failure}" + (" (after a retry)" if attempt == 2 else ""))
                break
            _sleep(RETRY_DELAY_S, cancel)
    names = ", ".join(f.filename for f in spec.files.values())
    raise DownloadError(
        f"Could not download {spec.title} file {fspec.filename}:\n  "
        + "\n  ".join(failures)
        + ("\nCheck the internet connection and try again, or get" if network_trouble else
           "\nThe mirrors answered, but not with this dataset file. Get")
        + f" the files ({names}) some other way and put them in {dest}."
    )
