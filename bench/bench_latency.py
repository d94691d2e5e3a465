"""p50/p99 of krait's hello ``.py`` beside a plain twisted.web Resource, measured interleaved.

Both servers run at once, pinned to CPU 0, and take turns (krait, Resource, krait, ...) in
short rounds, so the load of a shared machine falls on both alike; the clients run on CPU 1.

- saturation: ``wrk -t1 -c32 --latency`` for each round; the ratios krait / Resource of
  throughput and p99 per round, then their medians and spread;
- open loop (``open_loop.py``, in its own process on CPU 1): every server at the same rates,
  25 %, 50 % and 90 % of the lowest median peak (``--open-rates own``: of its own peak), p50
  and p99 from each request's due time, per round. The client is Python: on a shared core
  it tops out at a few thousand requests a second, so a rate near that measures the client.

    python bench/bench_latency.py [--seconds 3] [--rounds 5] [--open-rounds 3]
        [--krait-option=--no-access-log ...] [--skip-open-loop] [--compare-with CHECKOUT]
        [--open-rates common|own]

``--compare-with /work/main`` adds krait from another checkout to the rounds (a before/after
measured together); the ratios stay those of this tree's krait over the Resource.

Read the medians; the spread says how much the shared machine moved them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import WrkResult, free_port, pinned, start_krait, stop_process, wait_for, wrk

BENCH = Path(__file__).resolve().parent
HELLO_SCRIPT = (
    'krait.set_content_type(raw="text/plain; charset=utf-8")\nreturn b"Hello, World!\\n"\n'
)
FRACTIONS = (0.25, 0.5, 0.9)


def open_loop_run(url: str, rate: float, seconds: float) -> tuple[float, float]:
    """p50 and p99 in ms of one ``open_loop.py`` run on CPU 1."""
    command = [sys.executable, str(BENCH / "open_loop.py"), url, "--rate", f"{rate:.0f}"]
    command += ["--seconds", str(seconds)]
    done = subprocess.run(
        pinned(command, "1"), capture_output=True, text=True, timeout=seconds + 60
    )
    # "7000 req/s: p50 0.80 ms, p99 2.10 ms, max 9.00 ms"
    fields = done.stdout.replace(",", "").split()
    if len(fields) < 8:
        raise RuntimeError(f"open_loop.py gave no result:\n{done.stdout}\n{done.stderr}")
    return float(fields[3]), float(fields[6])


def spread(values: list[float]) -> str:
    """``median [min-max]`` of ``values``."""
    return f"{statistics.median(values):7.2f} [{min(values):.2f}–{max(values):.2f}]"


def main() -> None:
    """Parses the command line, runs the rounds and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=5, help="saturation rounds")
    parser.add_argument("--open-rounds", type=int, default=3, help="open-loop rounds")
    parser.add_argument("--open-seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--krait-option",
        action="append",
        default=None,
        help="an option for krait (default: --no-access-log); repeat for more",
    )
    parser.add_argument("--skip-open-loop", action="store_true")
    parser.add_argument(
        "--open-rates",
        choices=["common", "own"],
        default="common",
        help="open-loop rates from the lowest peak (common) or each server's own",
    )
    parser.add_argument("--compare-with", type=Path, help="another checkout of krait to run too")
    args = parser.parse_args()
    options = args.krait_option if args.krait_option is not None else ["--no-access-log"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        root.mkdir()
        (root / "hello.py").write_text(HELLO_SCRIPT)
        ports = {"krait": free_port(), "Resource": free_port()}
        if args.compare_with is not None:
            ports["other"] = free_port()
        procs = {
            "krait": start_krait(root, ports["krait"], *options),
            "Resource": subprocess.Popen(
                pinned(
                    [
                        sys.executable,
                        str(BENCH / "hello_servers.py"),
                        "resource",
                        str(ports["Resource"]),
                    ],
                    "0",
                ),
                stderr=subprocess.DEVNULL,
            ),
        }
        if args.compare_with is not None:
            procs["other"] = start_krait(root, ports["other"], *options, checkout=args.compare_with)
        try:
            for name, proc in procs.items():
                wait_for(ports[name], proc)
            urls = {name: f"http://127.0.0.1:{port}/hello" for name, port in ports.items()}
            for url in urls.values():
                wrk(url, 1, args.connections)  # warm up
            saturation(urls, args)
            if not args.skip_open_loop:
                open_loop_rounds(urls, args)
        finally:
            for proc in procs.values():
                stop_process(proc)


_PEAKS: dict[str, float] = {}


def saturation(urls: dict[str, str], args: argparse.Namespace) -> None:
    """wrk rounds, interleaved; prints each round and the medians."""
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.rounds} interleaved rounds")
    print(f"{'round':>5} {'server':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    results: dict[str, list[WrkResult]] = {name: [] for name in urls}
    for number in range(args.rounds):
        for name, url in urls.items():
            result = wrk(url, args.seconds, args.connections)
            results[name].append(result)
            print(
                f"{number:>5} {name:<9} {result.rps:>8.0f} {result.p50_ms:>8.2f} "
                f"{result.p99_ms:>8.2f}",
                flush=True,
            )
    for name, runs in results.items():
        _PEAKS[name] = statistics.median(run.rps for run in runs)
        print(
            f"median {name:<9} req/s {spread([run.rps for run in runs])}  "
            f"p99 ms {spread([run.p99_ms for run in runs])}"
        )
    for name in urls:
        if name != "Resource":
            pairs = list(zip(results[name], results["Resource"], strict=True))
            rps_ratio = [mine.rps / anchor.rps for mine, anchor in pairs]
            p99_ratio = [mine.p99_ms / anchor.p99_ms for mine, anchor in pairs]
            print(f"{name} / Resource  throughput {spread(rps_ratio)}  p99 {spread(p99_ratio)}")


def rate(name: str, args: argparse.Namespace) -> float:
    """The peak the open-loop rates of server ``name`` are fractions of."""
    return _PEAKS[name] if args.open_rates == "own" else min(_PEAKS.values())


def open_loop_rounds(urls: dict[str, str], args: argparse.Namespace) -> None:
    """Open-loop rounds at fractions of each server's median peak, interleaved."""
    print(f"\nopen loop, {args.open_seconds}s per run, {args.open_rounds} interleaved rounds")
    print(f"{'load':>5} {'server':<9} {'req/s':>8} {'p50 ms':>24} {'p99 ms':>24}")
    for fraction in FRACTIONS:
        p50s: dict[str, list[float]] = {name: [] for name in urls}
        p99s: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(args.open_rounds):
            for name, url in urls.items():
                p50, p99 = open_loop_run(url, rate(name, args) * fraction, args.open_seconds)
                p50s[name].append(p50)
                p99s[name].append(p99)
        for name in urls:
            print(
                f"{fraction:>5.0%} {name:<9} {rate(name, args) * fraction:>8.0f} "
                f"{spread(p50s[name]):>24} {spread(p99s[name]):>24}",
                flush=True,
            )


if __name__ == "__main__":
    main()
