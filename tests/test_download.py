"""Downloads against a loopback HTTP server: every failure mode ends in a clear
error and never in a half-written file."""

from __future__ import annotations

import collections
import dataclasses
import gzip
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from mnist_desktop.core.data import download as download_module
from mnist_desktop.core.data.datasets import DATASETS, DatasetSpec, load_dataset, verify_checksums
from mnist_desktop.core.data.download import check_mirror, download_dataset
from mnist_desktop.core.errors import DatasetError, DownloadCancelled, DownloadError
from mnist_desktop.core.paths import user_cache_dir
from test_datasets import make_fake_dataset

Responder = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state: Server = self.server.state  # type: ignore[attr-defined]
        state.hits[self.path] += 1
        responder = state.routes.get(self.path, status(404))
        try:
            responder(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts, cancel): expected in these tests

    def log_message(self, *args) -> None:
        pass


class Server:
    """A real HTTP server on 127.0.0.1 with per-path behaviour."""

    def __init__(self) -> None:
        self.routes: dict[str, Responder] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.state = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def mirror(self, prefix: str, responders: dict[str, Responder]) -> str:
        for filename, responder in responders.items():
            self.routes[f"/{prefix}/{filename}"] = responder
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def ok(body: bytes) -> Responder:
    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return respond


def status(code: int) -> Responder:
    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_error(code)

    return respond


def flaky(first: Responder, then: Responder) -> Responder:
    calls = []

    def respond(h: BaseHTTPRequestHandler) -> None:
        calls.append(1)
        (first if len(calls) == 1 else then)(h)

    return respond


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download_module, "RETRY_DELAY_S", 0.0)


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetSpec, dict[str, bytes]]:
    """A 200-image dataset (random pixels, so the .gz files span several 64 KiB chunks)."""
    folder = tmp_path_factory.mktemp("source")
    spec, _ = make_fake_dataset(folder, name="fakedl", n_train=200, n_test=100)
    bodies = {f.filename: (folder / f.filename).read_bytes() for f in spec.files.values()}
    return spec, bodies


def serve_all(server: Server, prefix: str, bodies: dict[str, bytes], **overrides: Responder) -> str:
    return server.mirror(prefix, {name: overrides.get(name, ok(body)) for name, body in bodies.items()})


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


TRAIN = "train-images-idx3-ubyte.gz"


# ---------------------------------------------------------------- success paths


def test_good_download_with_progress(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    mirror = serve_all(server, "m1", bodies)
    calls: list[tuple[int, int | None]] = []
    dest = download_dataset(spec, tmp_path / "dl", mirrors=[mirror], progress=lambda d, t: calls.append((d, t)))
    assert dest == tmp_path / "dl"
    assert leftovers(dest) == sorted(bodies)
    assert verify_checksums(spec, dest) == dest
    total = sum(f.size for f in spec.files.values())
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) > 5
    assert server.hits[f"/m1/{TRAIN}"] == 1


def test_existing_valid_files_are_not_fetched_again(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies)])
    server.hits.clear()
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"junk")
    download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies)])
    assert list(server.hits) == ["/m1/t10k-labels-idx1-ubyte.gz"]
    assert verify_checksums(spec, tmp_path) == tmp_path


def test_404_then_second_mirror(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    first = server.mirror("m1", {})
    second = serve_all(server, "m2", bodies)
    download_dataset(spec, tmp_path, mirrors=[first, second])
    assert verify_checksums(spec, tmp_path) == tmp_path
    assert server.hits[f"/m1/{TRAIN}"] == 1  # 404 is not retried


def test_transient_error_retried_once_on_same_mirror(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    mirror = serve_all(server, "m1", bodies, **{TRAIN: flaky(status(503), ok(bodies[TRAIN]))})
    download_dataset(spec, tmp_path, mirrors=[mirror])
    assert server.hits[f"/m1/{TRAIN}"] == 2


def test_raw_and_multi_member_bodies(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    raw = gzip.decompress(bodies[TRAIN])
    labels = "train-labels-idx1-ubyte.gz"
    payload = gzip.decompress(bodies[labels])
    two_members = gzip.compress(payload[:50]) + gzip.compress(payload[50:]) + b"\0\0\0"
    mirror = serve_all(server, "m1", bodies, **{TRAIN: ok(raw), labels: ok(two_members)})
    download_dataset(spec, tmp_path, mirrors=[mirror])
    assert (tmp_path / "train-images-idx3-ubyte").read_bytes() == raw  # stored under its real name
    assert load_dataset(spec, tmp_path).train_images.shape == (200, 28, 28)


def test_load_dataset_downloads_into_cache(server: Server, fake) -> None:
    spec, bodies = fake
    spec = dataclasses.replace(spec, name="fakedl-cache", mirrors=(serve_all(server, "m1", bodies),))
    with pytest.raises(DatasetError, match="download fakedl-cache"):
        load_dataset(spec)
    ds = load_dataset(spec, download=True)
    assert Path(ds.source) == user_cache_dir() / "datasets" / "fakedl-cache"
    assert ds.test_labels.shape == (100,)


# ---------------------------------------------------------------- failures


def assert_failed_cleanly(exc_info, dest: Path, *fragments: str) -> None:
    message = str(exc_info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert str(dest) in message
    assert leftovers(dest) == []


def test_checksum_mismatch(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    payload = bytearray(gzip.decompress(bodies[TRAIN]))
    payload[1000] ^= 0xFF
    corrupt = ok(gzip.compress(bytes(payload)))
    mirrors = [serve_all(server, "m1", bodies, **{TRAIN: corrupt}), serve_all(server, "m2", bodies, **{TRAIN: corrupt})]
    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=mirrors)
    assert_failed_cleanly(info, tmp_path, "/m1/" + TRAIN, "/m2/" + TRAIN, "fails its checksum")


def test_gzip_bomb_cut_off(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = comp.compress(gzip.decompress(bodies[TRAIN])) + comp.compress(bytes(32 << 20)) + comp.flush()
    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies, **{TRAIN: ok(bomb)})])
    assert_failed_cleanly(info, tmp_path, "holds more than the expected")


def test_connection_refused(fake, tmp_path: Path) -> None:
    spec, _ = fake
    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[closed_port_url()])
    assert_failed_cleanly(info, tmp_path, "connection refused", TRAIN)


def test_timeout(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake

    def stall(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(bodies[TRAIN])))
        h.end_headers()
        h.wfile.write(bodies[TRAIN][:100])
        h.wfile.flush()
        server.stop.wait(5)

    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies, **{TRAIN: stall})], timeout=0.5)
    assert_failed_cleanly(info, tmp_path, "timed out", "after a retry")
    assert server.hits[f"/m1/{TRAIN}"] == 2


def test_truncated_body(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake

    def truncated(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(bodies[TRAIN])))
        h.end_headers()
        h.wfile.write(bodies[TRAIN][: len(bodies[TRAIN]) // 2])

    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies, **{TRAIN: truncated})])
    assert_failed_cleanly(info, tmp_path, f"connection closed after {len(bodies[TRAIN]) // 2} of")


def test_redirect_loop(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake

    def loop(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", h.path)
        h.send_header("Content-Length", "0")
        h.end_headers()

    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies, **{TRAIN: loop})])
    assert_failed_cleanly(info, tmp_path, "HTTP 302")


def test_redirect_to_plain_http_refused(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake

    def downgrade(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", "http://example.com/" + TRAIN)
        h.send_header("Content-Length", "0")
        h.end_headers()

    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies, **{TRAIN: downgrade})])
    assert_failed_cleanly(info, tmp_path, "only https://")


def test_cancel_leaves_no_partial_files(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    calls: list[int] = []
    with pytest.raises(DownloadCancelled):
        download_dataset(
            spec, tmp_path, mirrors=[serve_all(server, "m1", bodies)],
            progress=lambda d, t: calls.append(d), cancel=lambda: len(calls) > 2,
        )
    assert leftovers(tmp_path) == []
    assert 0 < calls[-1] < spec.files["train_images"].size


def test_failures_reported_per_mirror(server: Server, fake, tmp_path: Path) -> None:
    spec, _ = fake
    mirrors = [server.mirror("gone", {}), closed_port_url()]
    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=mirrors)
    message = str(info.value)
    assert f"{mirrors[0]}{TRAIN}: HTTP 404" in message
    assert f"{mirrors[1]}{TRAIN}: connection refused" in message
    assert "put them in" in message and str(tmp_path) in message


# ---------------------------------------------------------------- URL policy


@pytest.mark.parametrize(
    "url", ["http://example.com/", "ftp://example.com/", "file:///etc/", "https:///nohost", "//x/"]
)
def test_insecure_mirrors_refused(fake, tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="only https"):
        download_dataset(fake[0], tmp_path, mirrors=[url])
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "url", ["https://example.com/x", "http://127.0.0.1:8000/", "http://localhost/", "http://[::1]:9/"]
)
def test_allowed_mirrors(url: str) -> None:
    assert check_mirror(url).endswith("/")


def test_official_mirrors() -> None:
    assert DATASETS["mnist"].mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert DATASETS["fashion-mnist"].mirrors[1].startswith("https://raw.githubusercontent.com/zalandoresearch/")
    with pytest.raises(DatasetError, match="no mirrors"):
        download_dataset("mnist-subset")



# ---------------------------------------------------------------- deadlines, cancel, encodings (issue 14)


def trickle(body: bytes, seconds_per_byte: float, stop: threading.Event) -> Responder:
    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(len(body)):
            if stop.wait(seconds_per_byte):
                return
            h.wfile.write(body[i:i + 1])
            h.wfile.flush()

    return respond


def test_trickling_server_fails_on_the_rate_floor(server: Server, fake, tmp_path: Path) -> None:
    """Defect 12: 1 byte per 0.05 s never trips a socket timeout; the rate floor catches it."""
    spec, bodies = fake
    mirror = serve_all(server, "m1", bodies, **{TRAIN: trickle(bodies[TRAIN], 0.05, server.stop)})
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[mirror], timeout=0.5)
    assert time.monotonic() - started < 10
    assert_failed_cleanly(info, tmp_path, "too slow", "after a retry")


def test_total_deadline(server: Server, fake, tmp_path: Path) -> None:
    spec, bodies = fake
    mirror = serve_all(server, "m1", bodies, **{TRAIN: trickle(bodies[TRAIN], 0.0005, server.stop)})
    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[mirror], timeout=5, total_timeout=0.3)
    assert_failed_cleanly(info, tmp_path, "took longer than 0.3 s in total")


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_cancel_answers_within_half_a_second(server: Server, fake, tmp_path: Path, phase: str) -> None:
    """Defect 12: Cancel is honoured while the server sends nothing (before headers or mid-body)."""
    spec, bodies = fake
    reached = threading.Event()

    def hang(h: BaseHTTPRequestHandler) -> None:
        if phase == "body":
            h.send_response(200)
            h.send_header("Content-Length", str(len(bodies[TRAIN])))
            h.end_headers()
            h.wfile.write(bodies[TRAIN][:10])
            h.wfile.flush()
        reached.set()
        server.stop.wait(30)

    cancel_at: list[float] = []

    def cancel() -> bool:
        if reached.is_set() and not cancel_at:
            cancel_at.append(time.monotonic())
        return bool(cancel_at)

    with pytest.raises(DownloadCancelled):
        download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies, **{TRAIN: hang})],
                         timeout=60, cancel=cancel)
    assert time.monotonic() - cancel_at[0] < 0.5
    assert leftovers(tmp_path) == []


def test_content_encoding_gzip_is_accepted(server: Server, fake, tmp_path: Path) -> None:
    """Defect 17: a mirror that gzips on the fly (Content-Encoding: gzip) is valid."""
    spec, bodies = fake

    def encoded(body: bytes) -> Responder:
        wire = gzip.compress(body)

        def respond(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Encoding", "gzip")
            h.send_header("Content-Length", str(len(wire)))
            h.end_headers()
            h.wfile.write(wire)

        return respond

    mirror = server.mirror("gz", {name: encoded(body) for name, body in bodies.items()})
    download_dataset(spec, tmp_path, mirrors=[mirror])
    assert verify_checksums(spec, tmp_path) == tmp_path


def test_html_page_with_status_200_is_named_as_such(server: Server, fake, tmp_path: Path) -> None:
    """Defect 16: a web page is 'not the data file', not 'holds 66 bytes' / 'internet connection'."""
    spec, bodies = fake
    page = b"<!DOCTYPE html><html><body>This bucket has moved.</body></html>"

    def html(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(page)))
        h.end_headers()
        h.wfile.write(page)

    with pytest.raises(DownloadError) as info:
        download_dataset(spec, tmp_path, mirrors=[serve_all(server, "m1", bodies, **{TRAIN: html})])
    message = str(info.value)
    assert_failed_cleanly(info, tmp_path, "answered with a web page", f"not the data file {TRAIN}")
    assert "internet connection" not in message and "holds 66 bytes" not in message
