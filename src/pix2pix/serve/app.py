"""The REST server: POST /translate, GET /health, GET /info, and a drawing page at /.

``POST /translate?samples=K&seed=S`` answers with K different pictures (JSON, base64 PNGs) when the
model samples (a latent code, or dropout in per_image mode: the method says which); without them, one PNG.

The model is loaded once when the app is created, then compiled and warmed up
on a worker thread while the server already answers (``/health`` says 503
"starting" until it is ready; translation requests wait). A bounded pool of
``workers`` translates batches on threads, all with the one loaded model (the
inference mode travels in each call's context, not in the layers); with
``batch_window_ms`` > 0 requests arriving within that window share a batch. Every error is a JSON body with a status
code, never a traceback: 413 for an upload or image over the limits, 415 for
something that is not an image, 400 for a damaged one.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import io
import secrets
import socket
import threading
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.io import ImageTooLarge, decode_image, to_pil
from ..errors import ConfigError, ImageError, Pix2PixError, require
from ..inference import Translator, load_model
from ..models import size_multiple

require("fastapi", "serve", "pix2pix serve")
require("python_multipart", "serve", "pix2pix serve (uploads)")
from fastapi import FastAPI, Request  # noqa: E402 - after the dependency check
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import HTMLResponse, JSONResponse, Response  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

log = logging.getLogger("pix2pix.serve")


@dataclass
class ServeOptions:
    max_upload_mb: float = 20.0
    max_pixels: int = 25_000_000
    batch_window_ms: float = 10.0  # measured: 2.5x the throughput of one-by-one under load (benchmarks/results/performance.md)
    max_batch: int = 16
    # Batches translated at once, each on its own thread, by one shared model (the inference mode
    # travels with each call). 1 on CPUs: torch already spreads one batch over every core.
    workers: int = 1
    cors_origins: list[str] = field(default_factory=list)
    device: str = "auto"
    norm: str | None = None
    precision: str | None = None  # None: the run's inference.precision (auto: bf16 where native)
    compile: bool | str | None = None  # None: the run's inference.compile (auto: compile and warm up at start)


class ServeError(Pix2PixError):
    """The server cannot start where it was asked to listen."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


MAX_SERVED_SAMPLES = 8  # pictures per request


@dataclass
class _Job:
    image: np.ndarray
    direction: str
    future: asyncio.Future
    samples: int = 0  # 0: the one plain picture; K: K sampled pictures from ``seed``
    seed: int = 0


class Batcher:
    """A bounded pool of ``workers`` that each gather requests into a batch (within the window) and
    translate it on a thread; one loaded model serves them all."""

    def __init__(self, translators: dict[str, Translator], window_ms: float, max_batch: int, workers: int = 1) -> None:
        self.translators, self.window, self.max_batch = translators, window_ms / 1000.0, max_batch
        self.workers = max(1, workers)
        self.queue: asyncio.Queue[_Job] | None = None
        self.tasks: list[asyncio.Task] = []
        self.ready: threading.Event | None = None
        self.batches = 0

    async def start(self, ready: threading.Event | None = None) -> None:
        self.queue = asyncio.Queue()
        self.ready = ready
        self.tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def translate(self, image: np.ndarray, direction: str, samples: int = 0, seed: int = 0) -> np.ndarray | list[np.ndarray]:
        """One picture, or with ``samples`` > 0 that many (a list) drawn from ``seed``."""
        assert self.queue is not None
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(image, direction, future, samples, seed))
        return await future

    async def _worker(self) -> None:
        assert self.queue is not None
        import anyio

        if self.ready is not None:  # requests wait (queued) while the model warms up
            await anyio.to_thread.run_sync(self.ready.wait)
        while True:
            jobs = [await self.queue.get()]
            if self.window > 0:
                deadline = asyncio.get_running_loop().time() + self.window
                while len(jobs) < self.max_batch:
                    timeout = deadline - asyncio.get_running_loop().time()
                    if timeout <= 0:
                        break
                    try:
                        jobs.append(await asyncio.wait_for(self.queue.get(), timeout))
                    except asyncio.TimeoutError:
                        break
            plain = [job for job in jobs if not job.samples]
            groups = [[job for job in plain if job.direction == d] for d in {job.direction for job in plain}]
            for group in groups + [[job] for job in jobs if job.samples]:  # a sampled request: its own pass
                translator = self.translators[group[0].direction]
                try:
                    if group[0].samples:
                        job = group[0]
                        outputs = await anyio.to_thread.run_sync(translator.sample_arrays, [job.image], job.samples, job.seed)
                    else:
                        outputs = await anyio.to_thread.run_sync(translator.translate_arrays, [job.image for job in group],
                                                                 len(group))
                except Exception as exc:  # noqa: BLE001 - reported to each waiting request
                    log.exception("translation failed")
                    for job in group:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                self.batches += 1
                for job, out in zip(group, outputs):
                    if not job.future.done():
                        job.future.set_result(out)


def _static_page() -> str:
    return resources.files("pix2pix.serve").joinpath("static/index.html").read_text(encoding="utf-8")


class Health(BaseModel):
    status: str
    version: str


class Info(BaseModel):
    method: str
    directions: list[str]
    input_channels: int
    output_channels: int
    size_multiple: int
    inference_norm: str
    training_scale: str
    step: int
    input_palette: list[list[int]] | None
    task: str
    scale_factor: int
    max_upload_mb: float
    max_pixels: int
    batch_window_ms: float
    sampling: str  # how the method varies its pictures: latent, dropout or none
    can_sample: bool  # whether ``samples`` works with this model in the served inference mode
    version: str


class Samples(BaseModel):
    seed: int
    images: list[str]  # base64 PNGs


class ErrorBody(BaseModel):
    error: str


def create_app(model_path: str | Path, options: ServeOptions | None = None) -> FastAPI:
    """Build the FastAPI app with the model loaded (once) from a run folder, checkpoint or exported file."""
    options = options or ServeOptions()
    model = load_model(model_path)
    translators = {d: Translator(model, direction=d, device=options.device, norm=options.norm,
                                 precision=options.precision, compile=options.compile) for d in model.generators}
    batcher = Batcher(translators, options.batch_window_ms, options.max_batch, options.workers)
    max_bytes = int(options.max_upload_mb * 2**20)
    first = next(iter(translators.values()))
    ready = threading.Event()

    def warm_up() -> None:
        """Compile for the training size at batch 1 and at the micro-batch size before serving."""
        batch_sizes = (1, options.max_batch) if options.batch_window_ms > 0 else (1,)
        try:
            for translator in translators.values():
                translator.warm_up(batch_sizes)
        except Exception:  # noqa: BLE001 - a failed warm-up leaves eager inference, which works
            log.exception("warm-up failed; serving without it")
        finally:
            ready.set()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        import anyio

        await batcher.start(ready)
        warming = asyncio.create_task(anyio.to_thread.run_sync(warm_up))
        yield
        await batcher.stop()
        await warming

    app = FastAPI(title="pix2pix", version=__version__, lifespan=lifespan,
                  description="Image-to-image translation with a trained pix2pix / CycleGAN generator.")
    if options.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"])

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse({"error": "internal server error"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first_error = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first_error.get("loc", []))
        return JSONResponse({"error": f"invalid request: {where}: {first_error.get('msg', '')}"}, status_code=400)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_static_page())

    @app.get("/health", response_model=Health, responses={503: {"model": Health, "description": "still warming up"}})
    async def health() -> Response:
        """200 {"status": "ok"} once the model is compiled and warm; 503 {"status": "starting"} before."""
        if not ready.is_set():
            return JSONResponse(Health(status="starting", version=__version__).model_dump(), status_code=503)
        return JSONResponse(Health(status="ok", version=__version__).model_dump())

    @app.get("/info", response_model=Info)
    async def info() -> Info:
        data = model.config.data
        if first.scale == "native" or data.preprocess in ("crop", "none"):
            scale = "native size"
        elif data.preprocess == "scale_width":
            scale = f"width {data.load_size}"
        else:
            scale = f"{data.crop_size}x{data.crop_size}"
        return Info(
            method=model.method, directions=list(translators), input_channels=first.in_channels,
            output_channels=first.out_channels, size_multiple=size_multiple(first.net), inference_norm=first.norm,
            training_scale=scale, step=model.step, input_palette=model.input_palette,
            task=data.task, scale_factor=data.scale_factor if data.task == "superres" else 1,
            max_upload_mb=options.max_upload_mb, max_pixels=options.max_pixels,
            batch_window_ms=options.batch_window_ms, sampling=model.sampling.source,
            can_sample=_samples_refused(first, 2) is None, version=__version__,
        )

    async def _read_limited(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes + 64 * 1024:
            raise ApiError(413, f"upload of {int(length) / 2**20:.1f} MB is over the {options.max_upload_mb:g} MB limit")
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes + 64 * 1024:  # + room for multipart headers
                raise ApiError(413, f"upload is over the {options.max_upload_mb:g} MB limit")
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post(
        "/translate",
        responses={200: {"content": {"image/png": {}, "application/json": {"schema": Samples.model_json_schema()}},
                         "description": "the translated image as PNG, the input's size; with samples or seed, JSON: "
                                        "the seed and the pictures (base64 PNGs)"},
                   400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 415: {"model": ErrorBody}},
        response_class=Response,
    )
    async def translate(request: Request, direction: str = "AtoB", samples: int | None = None,
                        seed: int | None = None) -> Response:
        """Translate one image: multipart form field ``file``, or the raw image as the request body. ``samples``
        (1-8) different pictures, drawn from ``seed`` (default: a random one, returned to repeat them)."""
        if direction not in translators:
            raise ApiError(400, f"direction '{direction}' not available (valid: {', '.join(translators)})")
        if samples is not None or seed is not None:
            samples = 1 if samples is None else samples
            refused = _samples_refused(translators[direction], samples)
            if refused:
                raise ApiError(400, refused)
            seed = secrets.randbelow(2**31) if seed is None else seed
        body = await _read_limited(request)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            request._body = body  # noqa: SLF001 - let Starlette parse the bytes already read
            form = await request.form(max_part_size=max_bytes + 1)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ApiError(400, "multipart request without a 'file' field")
            data = await upload.read()
        else:
            data = body
        if not data:
            raise ApiError(400, "empty request: send an image as the body or as the multipart field 'file'")
        if len(data) > max_bytes:
            raise ApiError(413, f"upload is over the {options.max_upload_mb:g} MB limit")
        try:
            image = decode_image(data, "upload", max_pixels=options.max_pixels, keep_alpha=True)
        except ImageTooLarge as exc:
            raise ApiError(413, exc.reason) from None
        except ImageError as exc:
            status = 415 if "not an image" in exc.reason else 400
            raise ApiError(status, f"{exc.reason}") from None
        if samples is not None:
            pictures = await batcher.translate(image, direction, samples, seed or 0)
            images = [base64.b64encode(_png(picture)).decode("ascii") for picture in pictures]
            return JSONResponse(Samples(seed=seed or 0, images=images).model_dump())
        return Response(_png(await batcher.translate(image, direction)), media_type="image/png")

    app.state.batcher = batcher
    app.state.model = model
    return app


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    to_pil(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _samples_refused(translator: Translator, samples: int) -> str | None:
    """Why a request for ``samples`` pictures is refused, or None."""
    if not 1 <= samples <= MAX_SERVED_SAMPLES:
        return f"samples: {samples} is not between 1 and {MAX_SERVED_SAMPLES}"
    try:
        translator.check_samples(samples, "samples")
    except ConfigError as exc:
        return str(exc)
    return None


def serve(model_path: str | Path, host: str = "127.0.0.1", port: int = 8000, options: ServeOptions | None = None) -> None:
    """Run the app with uvicorn until interrupted."""
    uvicorn = require("uvicorn", "serve", "pix2pix serve")
    sock = bind_socket(host, port)  # before loading the model: a busy port fails at once, in one line
    try:
        app = create_app(model_path, options)
        print(f"serving {model_path} on http://{host}:{port}/ (API docs: /docs, OpenAPI: /openapi.json)", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        server.run(sockets=[sock])
    finally:
        sock.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or a ServeError naming what is wrong with them."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: cannot resolve this address ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"--port {port}: already in use on {host} (stop what listens there or choose another port)") from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"--port {port}: permission denied on {host} (ports below 1024 need root)") from None
        raise ServeError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock
