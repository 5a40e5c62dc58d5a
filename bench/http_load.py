"""HTTP load for benchmarks: a server in its own process and a load generator driving it.

The load generator is `wrk` when installed (C, so it leaves the CPU to the server under test);
otherwise an httpx/asyncio client in another process, whose own CPU use caps what it measures.
It either repeats a GET (`load`) or sends a prepared list of requests once each (`replay`).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import percentiles_ms

LOOPBACK = "127.0.0.1"
_PLACEHOLDER = re.compile(r"\{(lat|lon)\}")
_WRK_MARK = "BENCH_JSON "
# wrk's default 2 s timeout would turn a slow request into an error instead of a latency.
_WRK_TIMEOUT = "10s"
_LUA = """
math.randomseed({seed})
local bbox = {{ {bbox} }}
local function coordinate(axis)
  local low, high = bbox[axis], bbox[axis + 2]
  return low + math.random() * (high - low)
end
request = function()
  return wrk.format("GET", string.format([[{fmt}]]{args}))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class Target:
    """A GET path to load; `{lat}` and `{lon}` are replaced by random points in `bbox`."""

    path: str
    bbox: tuple[float, float, float, float] | None = None

    def sample(self, rng: random.Random) -> str:
        """The path with a fresh random point, or as given when it has no placeholder."""
        if self.bbox is None:
            return self.path
        min_lon, min_lat, max_lon, max_lat = self.bbox
        point = {"lon": rng.uniform(min_lon, max_lon), "lat": rng.uniform(min_lat, max_lat)}
        return _PLACEHOLDER.sub(lambda m: f"{point[m.group(1)]:.6f}", self.path)


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request sent as it is: method, path, headers and body (no tabs or newlines)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load run achieved: throughput, failures and latency.

    `errors` counts 4xx/5xx answers and transport failures for `load`, only transport failures
    for `replay`, whose answers are counted by status in `statuses`. `exhausted` counts requests
    a replay had to make up (GET /healthz, in the totals) after its list ran out.
    """

    generator: str
    requests: int
    duration_s: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    exhausted: int = 0

    @property
    def requests_per_s(self) -> float:
        """Completed requests per second of the run."""
        return self.requests / self.duration_s if self.duration_s else float("nan")


@dataclass(frozen=True, slots=True)
class ChildServer:
    """A server running in a child process, reachable on loopback."""

    url: str
    pid: int

    def memory_mb(self) -> dict[str, float]:
        """The server process's resident and peak resident memory, in MB."""
        return process_memory_mb(self.pid)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def process_memory_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process from /proc, in MB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss_mb": fields["VmRSS"], "peak_mb": fields["VmHWM"]}


@contextmanager
def serve_in_child(
    serve: Callable[..., None],
    *args: Any,
    ready_path: str = "/healthz",
    timeout_s: float = 300,
    daemon: bool = True,
) -> Iterator[ChildServer]:
    """Run `serve(*args, host, port)` in a spawned process until the block ends.

    A server that starts processes of its own (uvicorn with several workers) needs
    `daemon=False`: daemonic processes may not have children.
    """
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(*args, LOOPBACK, port), daemon=daemon
    )
    process.start()
    url = f"http://{LOOPBACK}:{port}"
    try:
        _wait_ready(url + ready_path, process, timeout_s)
        assert process.pid is not None
        yield ChildServer(url, process.pid)
    finally:
        process.terminate()
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()


def _wait_ready(url: str, process: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise RuntimeError(f"the server exited with code {process.exitcode} before serving")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url} within {timeout_s:.0f} s")


def pick_generator(preference: str) -> str:
    """'wrk' or 'httpx': the preference, or with 'auto' wrk when it is on PATH."""
    if preference == "auto":
        return "wrk" if shutil.which("wrk") else "httpx"
    if preference == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install -y wrk), use --load httpx")
    return preference


def load(
    base_url: str,
    target: Target,
    *,
    generator: str,
    connections: int,
    duration_s: float,
    seed: int = 1,
) -> LoadResult:
    """Drive `target` with `connections` concurrent keep-alive connections for `duration_s`."""
    if generator == "wrk":
        return _load_wrk(base_url, target, connections, duration_s, seed)
    # Its own process, so the client's event loop does not share a GIL with the caller.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_load_httpx, base_url, target, connections, duration_s, seed).result()


def _load_wrk(
    base_url: str, target: Target, connections: int, duration_s: float, seed: int
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="kerbside-wrk-") as tmp:
        script = Path(tmp) / "target.lua"
        script.write_text(_lua(target, seed))
        # One thread: wrk needs little CPU, and every core it leaves is one the server can use.
        command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--timeout"]
        command += [_WRK_TIMEOUT, "-s", str(script), base_url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith(_WRK_MARK))
    summary = json.loads(line.removeprefix(_WRK_MARK))
    return LoadResult(
        generator="wrk",
        requests=summary["requests"],
        duration_s=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        p50_ms=summary["p50_us"] / 1e3,
        p99_ms=summary["p99_us"] / 1e3,
        max_ms=summary["max_us"] / 1e3,
    )


def _lua(target: Target, seed: int) -> str:
    axes = _PLACEHOLDER.findall(target.path)
    fmt = _PLACEHOLDER.sub("%.6f", target.path.replace("%", "%%"))
    # Lua's table is 1-based: bbox[1] is min lon, bbox[2] min lat.
    args = "".join(f", coordinate({1 if axis == 'lon' else 2})" for axis in axes)
    bbox = ", ".join(f"{v!r}" for v in (target.bbox or (0.0, 0.0, 0.0, 0.0)))
    return _LUA.format(seed=seed, bbox=bbox, fmt=fmt, args=args, mark=_WRK_MARK)


def _load_httpx(
    base_url: str, target: Target, connections: int, duration_s: float, seed: int
) -> LoadResult:
    return asyncio.run(_httpx_run(base_url, target, connections, duration_s, seed))


async def _httpx_run(
    base_url: str, target: Target, connections: int, duration_s: float, seed: int
) -> LoadResult:
    rng = random.Random(seed)
    timings: list[int] = []
    errors = 0

    async def connection(deadline: float) -> None:
        nonlocal errors
        # A client per connection: one shared pool of 32 serialises on httpcore's pool lock
        # and measured a quarter of the rate of four connections.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter_ns()
                try:
                    response = await client.get(target.sample(rng))
                    errors += response.status_code >= 400
                except httpx.HTTPError:
                    errors += 1
                    continue
                timings.append(time.perf_counter_ns() - started)

    started = time.perf_counter()
    await asyncio.gather(*(connection(started + duration_s) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latency = percentiles_ms(timings)
    return LoadResult(
        "httpx", len(timings), elapsed, errors, latency["p50"], latency["p99"], latency["max"]
    )


_REPLAY_LUA = """
local prepared = {{}}
local next_request = 0
statuses = {{}}
exhausted = 0
local threads = {{}}

setup = function(thread)
  table.insert(threads, thread)
end

-- wrk.init calls this after it has set the Host header that wrk.format needs.
init = function(args)
  for line in io.lines([[{path}]]) do
    local method, path, headers, body = line:match("^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$")
    local h = {{}}
    for name, value in headers:gmatch("([^\\31]-): ([^\\31]*)") do h[name] = value end
    if body == "" then body = nil end
    prepared[#prepared + 1] = wrk.format(method, path, h, body)
  end
end

request = function()
  next_request = next_request + 1
  local ready = prepared[next_request]
  if ready == nil then
    exhausted = exhausted + 1
    return wrk.format("GET", "/healthz")
  end
  return ready
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local e = summary.errors
  local counts, spare = {{}}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + n end
    spare = spare + thread:get("exhausted")
  end
  local parts = {{}}
  for status, n in pairs(counts) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
  io.write(string.format(
    '{mark}{{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "exhausted": %d, "statuses": {{%s}}}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, spare,
    table.concat(parts, ", ")))
end
"""


def replay(
    base_url: str,
    requests: Sequence[Prepared],
    *,
    generator: str,
    connections: int,
    duration_s: float,
) -> LoadResult:
    """Send `requests` in order, each once, over `connections` keep-alive connections.

    The run lasts `duration_s`; prepare more requests than it can send (a run that runs out
    sends GET /healthz and counts those in `exhausted`).
    """
    if generator == "wrk":
        return _replay_wrk(base_url, requests, connections, duration_s)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(
            _replay_httpx, base_url, list(requests), connections, duration_s
        ).result()


def _replay_wrk(
    base_url: str, requests: Sequence[Prepared], connections: int, duration_s: float
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="kerbside-wrk-") as tmp:
        data, script = Path(tmp) / "requests.tsv", Path(tmp) / "replay.lua"
        with data.open("w") as out:
            for prepared in requests:
                out.write(_tsv_line(prepared))
        script.write_text(_REPLAY_LUA.format(path=data, mark=_WRK_MARK))
        command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--timeout"]
        command += [_WRK_TIMEOUT, "-s", str(script), base_url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith(_WRK_MARK))
    summary = json.loads(line.removeprefix(_WRK_MARK))
    return LoadResult(
        generator="wrk",
        requests=summary["requests"],
        duration_s=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        p50_ms=summary["p50_us"] / 1e3,
        p99_ms=summary["p99_us"] / 1e3,
        max_ms=summary["max_us"] / 1e3,
        statuses={int(k): v for k, v in summary["statuses"].items()},
        exhausted=summary["exhausted"],
    )


def _tsv_line(prepared: Prepared) -> str:
    headers = "\x1f".join(f"{name}: {value}" for name, value in prepared.headers)
    fields = (prepared.method, prepared.path, headers, prepared.body)
    if any(c in text for text in fields for c in "\t\n\r"):
        raise ValueError(f"a replayed request may hold no tabs or newlines: {prepared}")
    return "\t".join(fields) + "\n"


def _replay_httpx(
    base_url: str, requests: list[Prepared], connections: int, duration_s: float
) -> LoadResult:
    return asyncio.run(_httpx_replay(base_url, requests, connections, duration_s))


async def _httpx_replay(
    base_url: str, requests: list[Prepared], connections: int, duration_s: float
) -> LoadResult:
    pending = iter(requests)
    timings: list[int] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def connection(deadline: float) -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
            while time.perf_counter() < deadline:
                prepared = next(pending, None)
                if prepared is None:
                    return
                started = time.perf_counter_ns()
                try:
                    response = await client.request(
                        prepared.method,
                        prepared.path,
                        headers=dict(prepared.headers),
                        content=prepared.body.encode() or None,
                    )
                except httpx.HTTPError:
                    errors += 1
                    continue
                timings.append(time.perf_counter_ns() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(connection(started + duration_s) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latency = percentiles_ms(timings)
    return LoadResult(
        "httpx",
        len(timings),
        elapsed,
        errors,
        latency["p50"],
        latency["p99"],
        latency["max"],
        statuses,
    )
