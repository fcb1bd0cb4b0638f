"""The REST server and its drawing page (the page driven in headless Chromium)."""

import io
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

from conftest import IN_CI, REPO

if not IN_CI:  # in CI a missing extra must fail, not skip
    pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from pix2pix import Translator  # noqa: E402
from pix2pix.serve.app import ServeOptions, create_app  # noqa: E402

# The server's outputs are compared with direct translation level for level. In bf16 (the auto
# choice on CPUs with native bf16) kernels chosen per batch size and compiled vs eager graphs differ
# by a level or two (measured on a 2-core Xeon with AVX512-BF16), so those checks run in fp32.
EXACT = "fp32"

from browser import browser_page  # noqa: E402


def png(h: int, w: int, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def flat_png(h: int, w: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (w, h)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(trained_run: Path):
    with TestClient(create_app(trained_run, ServeOptions(max_upload_mb=1, max_pixels=500_000, precision=EXACT))) as c:
        yield c


def _wait_until_ready(client, seconds: float = 60) -> dict:
    """/health answers 503 "starting" while the model warms up in the background, then 200 "ok"."""
    deadline = time.time() + seconds
    while True:
        r = client.get("/health")
        if r.status_code == 200 or time.time() > deadline:
            return r.json()
        assert r.status_code == 503 and r.json()["status"] == "starting"
        time.sleep(0.05)


def test_health_info_and_docs(client):
    assert _wait_until_ready(client)["status"] == "ok"
    info = client.get("/info").json()
    assert info["method"] == "pix2pix" and info["directions"] == ["AtoB"] and info["input_channels"] == 3
    assert client.get("/openapi.json").json()["paths"]["/translate"]["post"]
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN: works offline


def test_translate_multipart_and_raw_body(client, trained_run: Path):
    data = png(120, 90)
    r = client.post("/translate", files={"file": ("x.png", data, "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(r.content))
    assert out.size == (90, 120)
    expected = Translator.from_checkpoint(trained_run, precision=EXACT)(Image.open(io.BytesIO(data)))
    assert np.abs(np.asarray(out, np.int16) - np.asarray(expected, np.int16)).max() <= 1
    raw = client.post("/translate", content=data, headers={"Content-Type": "image/png"})
    assert raw.status_code == 200 and raw.content == r.content


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"x" * (2 * 2**20), 413, "over the 1 MB limit"),
        (b"just some text", 415, "not an image"),
        (png(40, 40)[:200], 400, "cannot"),
        (flat_png(800, 800), 413, "pixel limit"),
        (b"", 400, "empty request"),
    ],
)
def test_bad_requests_get_json_errors(client, body, status, message):
    for kwargs in ({"content": body}, {"files": {"file": ("f.bin", body, "application/octet-stream")}}):
        r = client.post("/translate", **kwargs)
        assert r.status_code == status, (r.status_code, r.text)
        assert message in r.json()["error"] and "Traceback" not in r.text


def test_other_bad_requests(client):
    r = client.post("/translate?direction=BtoA", content=png(16, 16))
    assert r.status_code == 400 and "not available" in r.json()["error"]
    r = client.post("/translate", files={"other": ("x.png", png(16, 16), "image/png")})
    assert r.status_code == 400 and "'file'" in r.json()["error"]
    assert client.get("/nope").status_code == 404 and "error" in client.get("/nope").json()


def test_no_wildcard_cors_by_default(client, trained_run: Path):
    r = client.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    with TestClient(create_app(trained_run, ServeOptions(cors_origins=["http://app.example"], precision=EXACT))) as c:
        ok = c.get("/health", headers={"Origin": "http://app.example"})
        assert ok.headers["access-control-allow-origin"] == "http://app.example"
        assert "access-control-allow-origin" not in c.get("/health", headers={"Origin": "http://evil.example"}).headers


def test_micro_batching_serves_concurrent_requests(trained_run: Path):
    import concurrent.futures

    with TestClient(create_app(trained_run, ServeOptions(batch_window_ms=30, precision=EXACT))) as c:
        bodies = [png(64, 64, seed) for seed in range(6)]
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda b: c.post("/translate", content=b), bodies))
        assert all(r.status_code == 200 for r in results)
        single = [c.post("/translate", content=b).content for b in bodies[:2]]
        assert single == [results[0].content, results[1].content]  # batching never changes an output


def test_the_batcher_gathers_waiting_requests_up_to_max_batch_and_answers_each_its_own():
    """Requests already queued when the worker gathers share one forward pass (no timing involved)."""
    import asyncio

    from pix2pix.serve.app import Batcher

    class Recording:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def translate_arrays(self, images: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
            self.batches.append(len(images))
            return [image + 1 for image in images]

    async def six_requests(window_ms: float) -> tuple[list[int], list[int]]:
        recording = Recording()
        batcher = Batcher({"AtoB": recording}, window_ms=window_ms, max_batch=4)
        await batcher.start()
        requests = [asyncio.create_task(batcher.translate(np.full((2, 2, 3), i, np.uint8), "AtoB")) for i in range(6)]
        outputs = await asyncio.gather(*requests)
        await batcher.stop()
        return recording.batches, [int(out[0, 0, 0]) for out in outputs]

    batches, answers = asyncio.run(six_requests(window_ms=200))
    assert batches == [4, 2] and answers == [1, 2, 3, 4, 5, 6]  # max_batch, then the rest; each its own output
    batches, answers = asyncio.run(six_requests(window_ms=0))
    assert batches == [1] * 6 and answers == [1, 2, 3, 4, 5, 6]  # no window: one at a time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(run: Path) -> Iterator[str]:
    """A real server on a free port for the browser tests."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(run, ServeOptions(precision=EXACT)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(trained_run: Path):
    with serving(trained_run) as url:
        yield url


def _shown_output(page) -> np.ndarray:
    """The output image as the page shows it, (H, W, 3)."""
    width, height, rgba = page.evaluate("""() => {
        const img = document.getElementById('output');
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        return [c.width, c.height, Array.from(g.getImageData(0, 0, c.width, c.height).data)];
    }""")
    return np.array(rgba, dtype=np.int16).reshape(height, width, 4)[:, :, :3]


def _task_run(root: Path, task: str) -> Path:
    from pix2pix.api import train

    from test_photo_tasks import _cfg, _photos

    data = _photos(root / "photos", count=4)
    train(_cfg(task, "train.max_steps=2"), data, root / task, progress=False)
    return root / task


def test_inpainting_page_paints_holes_on_an_uploaded_photo(tmp_path: Path):
    run = _task_run(tmp_path, "inpainting")
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(photo)
    with serving(run) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=15000)
        assert page.evaluate("document.body.dataset.mode") == "holes"
        assert not page.locator("#eraser").is_visible() and page.locator("#pen").inner_text() == "Hole brush"
        page.set_input_files("#upload", str(photo))
        page.wait_for_function("document.getElementById('status').textContent.includes('paint the holes')")
        box = page.locator("#canvas").bounding_box()
        page.fill("#size", "6")
        page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.5 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.5 * box["height"], steps=6)
        page.mouse.up()
        sent = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
        page.click("#translate")
        page.wait_for_function("document.body.dataset.translated === '1'", timeout=30000)
        output = _shown_output(page)
    import base64

    holed = np.asarray(Image.open(io.BytesIO(base64.b64decode(sent.split(",", 1)[1]))))
    assert holed.shape == (48, 64, 4)
    holes = holed[:, :, 3] < 128
    assert 0.02 < holes.mean() < 0.5  # the brush cut holes (transparent pixels), the rest is the photo
    expected = np.asarray(Translator.from_checkpoint(run, precision=EXACT)(Image.fromarray(holed)), np.int16)
    assert np.abs(output - expected).max() <= 1
    known = ~holes & (holed[:, :, 3] == 255)
    assert np.abs(output[known] - holed[:, :, :3][known].astype(np.int16)).max() <= 2  # only the holes are filled


def test_colorization_page_takes_an_uploaded_grey_photo(tmp_path: Path):
    run = _task_run(tmp_path, "colorization")
    grey = tmp_path / "grey.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40), dtype=np.uint8)).save(grey)
    with serving(run) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=15000)
        assert page.evaluate("document.body.dataset.mode") == "upload"
        assert "grey photo" in page.inner_text("#input-title") and not page.locator("#pen").is_visible()
        page.click("#translate")
        assert "upload a grey photo first" in page.inner_text("#status")
        page.set_input_files("#upload", str(grey))
        page.wait_for_function("document.getElementById('status').textContent.includes('press Translate')")
        page.click("#translate")
        page.wait_for_function("document.body.dataset.translated === '1'", timeout=30000)
        output = _shown_output(page)
    expected = np.asarray(Translator.from_checkpoint(run, precision=EXACT)(Image.open(grey)), np.int16)
    assert output.shape == (40, 40, 3) and np.abs(output - expected).max() <= 1


def test_drawing_page_in_chromium(live_server: str, trained_run: Path):
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with browser_page() as page:
        failed: list[str] = []  # every request the page makes must succeed (a favicon 404 logs a console error)
        page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
        page.on("console", lambda message: failed.append(message.text) if message.type == "error" else None)
        page.goto(live_server)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=15000)
        box = page.locator("#canvas").bounding_box()
        background = page.evaluate("document.body.dataset.background")
        page.locator(f".swatch:not([data-colour='{background}'])").first.click()
        page.fill("#size", "20")
        for (x0, y0), (x1, y1) in [((0.2, 0.2), (0.8, 0.3)), ((0.5, 0.1), (0.5, 0.9)), ((0.1, 0.8), (0.9, 0.6))]:
            page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
            page.mouse.down()
            page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=8)
            page.mouse.up()
        drawn = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
        page.click("#translate")
        page.wait_for_function("document.body.dataset.translated === '1'", timeout=30000)
        output = _shown_output(page)
        assert page.locator("#download").get_attribute("href")
        page.screenshot(path=str(artifacts / "serve_page.png"), full_page=True)
    assert failed == []
    import base64

    drawing = Image.open(io.BytesIO(base64.b64decode(drawn.split(",", 1)[1])))
    expected = np.asarray(Translator.from_checkpoint(trained_run, precision=EXACT)(drawing), np.int16)
    assert output.shape == expected.shape
    assert np.abs(output - expected).max() <= 1  # within 1/255
    assert np.asarray(drawing.convert("L")).std() > 5  # the strokes really are in the drawing


def test_serve_on_a_port_in_use_is_a_one_line_error(cli, trained_run: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = cli("serve", trained_run, "--port", port)
    assert r.code == 2
    assert r.err.strip() == f"error: --port {port}: already in use on 127.0.0.1 (stop what listens there or choose another port)"


def test_health_says_starting_until_the_warm_up_is_done(trained_run: Path, monkeypatch):
    release, started = threading.Event(), threading.Event()
    warmed: list[tuple[int, ...]] = []

    def slow_warm_up(self, batch_sizes=(1,)):
        started.set()
        assert release.wait(60)
        warmed.append(tuple(batch_sizes))

    monkeypatch.setattr(Translator, "warm_up", slow_warm_up)
    with TestClient(create_app(trained_run, ServeOptions(max_batch=4, precision=EXACT))) as c:
        assert started.wait(30)
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "starting"
        result: dict = {}
        request = threading.Thread(target=lambda: result.update(r=c.post("/translate", content=png(64, 64))))
        request.start()  # waits for the warm-up, then is served
        time.sleep(0.3)
        assert "r" not in result
        release.set()
        request.join(60)
        assert result["r"].status_code == 200
        assert c.get("/health").json()["status"] == "ok"
    assert warmed == [(1, 4)]  # the training size at batch 1 and at the micro-batch size
