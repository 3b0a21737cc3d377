"""Shared helpers of the benchmarks: a server in its own process, a threaded load generator,
percentiles and the ``RESULT`` line.

The machine the benchmarks target has two cores, so the server under test always runs in a
separate process (spawned, not forked: the parent may hold threads and open SQLite
connections) and the load generator never shares the server's GIL.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from hub.serving import free_port

__all__ = [
    "Load",
    "ServerProcess",
    "percentile",
    "result",
    "run_load",
    "serve_app",
]


def serve_app(app: Any, port: int) -> None:
    """Serve ``app`` with uvicorn on 127.0.0.1 until the process is terminated."""
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="auto",
    )


class ServerProcess:
    """``target(port, *args)`` in a spawned process; ``start`` waits until ``probe`` answers.

    :param target: a module-level function that builds an app and calls :func:`serve_app`.
    :param probe: a path on the server that answers (any status below 500) once it is up.
    """

    def __init__(self, target: Callable[..., None], *args: Any, probe: str = "/") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.probe = probe
        ctx = multiprocessing.get_context("spawn")
        self.process = ctx.Process(target=target, args=(self.port, *args), daemon=True)

    def start(self, timeout: float = 300.0) -> ServerProcess:
        self.process.start()
        deadline = time.monotonic() + timeout
        while True:
            if not self.process.is_alive():
                raise RuntimeError(f"server process exited with {self.process.exitcode}")
            try:
                if httpx.get(self.url + self.probe, timeout=2.0).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"server did not answer within {timeout}s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass
class Load:
    """What a load run did: completed requests, wall time, per-request latencies (s)."""

    count: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def p(self, q: float) -> float:
        """The ``q`` quantile of the latencies, in milliseconds."""
        return percentile(self.latencies, q) * 1000.0


def run_load(
    request: Callable[[httpx.Client, int, int], bool],
    *,
    clients: int,
    seconds: float,
    auth: tuple[str, str] | None = None,
) -> Load:
    """Run ``request(client, worker, i)`` in ``clients`` threads for ``seconds`` each.

    Every thread has its own keep-alive ``httpx.Client``. ``request`` returns ``False`` when
    the worker has nothing left to do (it then stops early); it raises on a wrong answer.
    """
    barrier = threading.Barrier(clients + 1)
    lock = threading.Lock()
    load = Load()
    state = {"deadline": 0.0}

    def worker(index: int) -> None:
        latencies: list[float] = []
        errors: list[str] = []
        with httpx.Client(auth=auth, timeout=60.0) as client:
            barrier.wait()
            i = 0
            while time.perf_counter() < state["deadline"]:
                started = time.perf_counter()
                try:
                    more = request(client, index, i)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    if len(errors) > 20:
                        break
                    continue
                if not more:
                    break
                latencies.append(time.perf_counter() - started)
                i += 1
        with lock:
            load.latencies.extend(latencies)
            load.errors.extend(errors)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    state["deadline"] = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    load.elapsed = time.perf_counter() - started
    load.count = len(load.latencies)
    return load


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def result(name: str, value: float, unit: str, floor: float, ratio: float | None = None) -> str:
    """The ``RESULT`` line; ``ratio`` defaults to value / floor."""
    if ratio is None:
        ratio = value / floor if floor else 0.0
    return f"RESULT {name} value={value:.6g} unit={unit} floor={floor:.6g} ratio={ratio:.4g}"
