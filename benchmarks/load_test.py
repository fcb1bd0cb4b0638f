"""Bounded load test of `pix2pix serve` on loopback: N concurrent clients, M requests in all.

    python benchmarks/load_test.py RUN [--clients 50] [--requests 500] [--size 64] [--windows 0,20] [--workers 1,2]

Starts the server in this process on 127.0.0.1 (never anything else), once per
(batch window, worker count), and prints throughput, p50/p95 latency and errors for each.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
import statistics
import threading
import time

import numpy as np
from PIL import Image


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _png(size: int, seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


async def _load(url: str, clients: int, requests: int, timeout: float, bodies: list[bytes]) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def client(session: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            try:
                r = await session.post(url, content=bodies[i % len(bodies)], headers={"Content-Type": "image/png"})
                if r.status_code != 200:
                    errors += 1
                    continue
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return {
        "throughput": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "errors": errors,
        "ok": len(latencies),
    }


def run(model: str, clients: int, requests: int, size: int, windows: list[float], timeout: float,
        workers: list[int] = [1]) -> list[dict]:  # noqa: B006 - read only
    import uvicorn

    from pix2pix.serve.app import ServeOptions, create_app

    bodies = [_png(size, seed) for seed in range(16)]
    results = []
    for window, count in [(w, n) for w in windows for n in workers]:
        port = _free_port()
        app = create_app(model, ServeOptions(batch_window_ms=window, max_batch=16, workers=count, compile=False))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/translate"
        asyncio.run(_load(url, min(clients, 4), min(requests, 20), timeout, bodies))  # warm-up
        result = asyncio.run(_load(url, clients, requests, timeout, bodies))
        result["batch_window_ms"], result["workers"] = window, count
        results.append(result)
        server.should_exit = True
        thread.join(timeout=10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--size", type=int, default=64, help="request image size in pixels (square)")
    parser.add_argument("--windows", default="0,20", help="batch windows to compare, in ms")
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout in seconds")
    parser.add_argument("--workers", default="1,2", help="server worker counts to compare")
    args = parser.parse_args()
    windows = [float(w) for w in args.windows.split(",")]
    workers = [int(n) for n in args.workers.split(",")]
    print(f"{args.clients} clients, {args.requests} requests of {args.size}x{args.size} px, timeout {args.timeout:g} s")
    print(f"{'batch window':>12}  {'workers':>7}  {'req/s':>8}  {'p50 ms':>8}  {'p95 ms':>8}  {'errors':>6}")
    for r in run(args.model, args.clients, args.requests, args.size, windows, args.timeout, workers):
        print(f"{r['batch_window_ms']:>10g}ms  {r['workers']:>7}  {r['throughput']:>8.1f}  {r['p50_ms']:>8.1f}  "
              f"{r['p95_ms']:>8.1f}  {r['errors']:>6}")


if __name__ == "__main__":
    main()
