"""`pix2pix download` against a local HTTP server on 127.0.0.1 (no other network)."""

import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix.data.download import download
from pix2pix.errors import DataError


def aligned_archive() -> bytes:
    """facades.tar.gz as the paper's code distributes it: facades/{train,val,test}/N.jpg (A|B)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split, count in (("train", 3), ("val", 1), ("test", 2)):
            for i in range(count):
                image = io.BytesIO()
                rng = np.random.default_rng(i)
                Image.fromarray(rng.integers(0, 255, (32, 64, 3), dtype=np.uint8)).save(image, format="JPEG")
                info = tarfile.TarInfo(f"facades/{split}/{i + 1}.jpg")
                info.size = len(image.getvalue())
                tar.addfile(info, io.BytesIO(image.getvalue()))
    return buffer.getvalue()


def unpaired_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for side, count in (("trainA", 3), ("trainB", 2), ("testA", 1), ("testB", 1)):
            for i in range(count):
                image = io.BytesIO()
                Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(image, format="PNG")
                z.writestr(f"horse2zebra/{side}/{i}.png", image.getvalue())
    return buffer.getvalue()


class Server:
    """Serves /pix2pix/datasets/facades.tar.gz and /cyclegan/datasets/horse2zebra.zip, with Range support;
    ``cut_first`` drops the first response half-way."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.cut_first, self.requests = files, False, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                data = outer.files.get(self.path)
                outer.requests.append((self.path, self.headers.get("Range")))
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_first:
                    outer.cut_first = False
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def server():
    s = Server({"/pix2pix/datasets/facades.tar.gz": aligned_archive(), "/cyclegan/datasets/horse2zebra.zip": unpaired_archive()})
    yield s
    s.close()


def test_download_extracts_the_layout_train_expects(server, tmp_path: Path, cli):
    target = download("facades", tmp_path, base_url=server.url, progress=False)
    assert sorted(p.name for p in target.iterdir()) == ["test", "train", "val"]
    r = cli("check-data", target)
    assert r.code == 0 and "split train: 3 pairs" in r.out
    assert not (tmp_path / ".downloads").exists() and not list(tmp_path.glob(".extract-*"))
    cyc = download("horse2zebra", tmp_path, base_url=server.url, progress=False)
    assert sorted(p.name for p in cyc.iterdir()) == ["testA", "testB", "trainA", "trainB"]
    with pytest.raises(DataError, match="already exists"):
        download("facades", tmp_path, base_url=server.url, progress=False)


def test_interrupted_transfer_resumes_with_range(server, tmp_path: Path):
    server.cut_first = True
    data = server.files["/pix2pix/datasets/facades.tar.gz"]
    target = download("facades", tmp_path, base_url=server.url, progress=False, sha256=hashlib.sha256(data).hexdigest())
    assert (target / "train" / "1.jpg").exists()
    ranges = [r for _, r in server.requests]
    assert ranges[0] is None and ranges[1] == f"bytes={len(data) // 2}-"  # continued, not restarted


def test_corrupt_archive_is_refused_and_nothing_extracted(server, tmp_path: Path):
    good = server.files["/pix2pix/datasets/facades.tar.gz"]
    with pytest.raises(DataError, match="checksum mismatch"):
        download("facades", tmp_path, base_url=server.url, progress=False, sha256="0" * 64)
    assert not (tmp_path / "facades").exists() and not list((tmp_path / ".downloads").glob("*"))
    damaged = bytearray(good)
    damaged[len(damaged) // 2 : len(damaged) // 2 + 64] = b"\0" * 64
    server.files["/pix2pix/datasets/facades.tar.gz"] = bytes(damaged)
    with pytest.raises(DataError, match="damaged or unreadable archive"):
        download("facades", tmp_path, base_url=server.url, progress=False)
    assert not (tmp_path / "facades").exists() and not list(tmp_path.glob(".extract-*"))


def test_offline_and_unknown_names_are_one_line_errors(tmp_path: Path, cli, monkeypatch):
    monkeypatch.setenv("PIX2PIX_DATASETS_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    r = cli("download", "facades", "--to", tmp_path)
    assert r.code == 2 and r.err.count("\n") == 1 and "cannot download" in r.err and "--from FILE" in r.err
    r = cli("download", "imagenet", "--to", tmp_path)
    assert r.code == 2 and "unknown dataset 'imagenet'" in r.err


def test_from_a_local_file(tmp_path: Path):
    archive = tmp_path / "facades.tar.gz"
    archive.write_bytes(aligned_archive())
    target = download("facades", tmp_path / "data", source=archive, progress=False)
    assert (target / "val" / "1.jpg").exists() and archive.exists()  # the user's file is left alone
