"""Scaling: wall time of ``jinavdr run`` with 1, 2, ... processes (``torchrun --nproc-per-node N``).

    python benchmarks/scaling.py                                  # minilm on the sample, CPU, 1 and 2 processes
    python benchmarks/scaling.py --procs 1 2 4 8 --device cuda --model jina-v4 --tasks tabfquad

Each configuration starts from an empty results folder and an empty embedding cache, so every
query and page is encoded. CPU threads are split evenly: each of N processes gets
``--threads // N`` (default: all cores), so 1 and N processes use the same cores. Printed per
configuration: wall time (process start, model loading on every rank and the run), the encoding,
scoring and evaluation seconds the result files record (summed over subsets), and whether every
metric and per-query value equals the 1-process run's. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(procs: int, run_args: list[str]) -> list[str]:
    if procs == 1:
        return [sys.executable, "-m", "jinavdr", "run", *run_args]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs), "--master-addr",
            "127.0.0.1", "--master-port", str(free_port()), "-m", "jinavdr", "run", *run_args]


def read_results(root: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """(scores per dataset/subset: metrics and per-query values, summed timings and counts)."""
    scores: dict[str, Any] = {}
    totals = {"query_encoding": 0.0, "page_encoding": 0.0, "scoring": 0.0, "evaluation": 0.0, "pages": 0.0,
              "queries": 0.0}
    for path in sorted(root.glob("*/*.json")):
        data = json.loads(path.read_text())
        for name, sub in data["subsets"].items():
            scores[f"{data['dataset']}:{name}"] = (sub["metrics"], sub["per_query"])
            for key in ("query_encoding", "page_encoding", "scoring", "evaluation"):
                totals[key] += sub["timings"][key]
            totals["pages"] += sub["cache"]["pages_encoded"]
            totals["queries"] += sub["cache"]["queries_encoded"]
    return scores, totals


def run_once(procs: int, args: argparse.Namespace, work: Path) -> tuple[float, dict[str, Any], dict[str, float]]:
    results, cache = work / f"results-{procs}", work / f"cache-{procs}"
    shutil.rmtree(results, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    run_args = ["--model", args.model, "--tasks", args.tasks, "--device", args.device, "--results-dir", str(results),
                "--cache-dir", str(cache), *args.extra]
    threads = max(1, args.threads // procs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.run(command(procs, run_args), cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{procs} process(es) failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    scores, totals = read_results(results)
    return wall, scores, totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--tasks", default="sample")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (each process then uses cuda:<local rank>)")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads shared by the processes")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (the fastest is reported)")
    ap.add_argument("extra", nargs="*", help="more `jinavdr run` options, after --")
    args = ap.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model {args.model}, tasks {args.tasks}, device {args.device}; {os.cpu_count()} CPU core(s), "
          f"{args.threads} thread(s) split over the processes; 1-minute load average at start {load:.2f}")
    if args.device == "cpu" and (os.cpu_count() or 1) <= 4:
        print("note: a machine this small (and shared with other users) cannot show the GPU speed-up: N processes "
              "split the same few cores that 1 process uses with N threads, and each process loads the model")
    work = Path(tempfile.mkdtemp(prefix="jinavdr-scaling-"))
    rows = []
    reference: dict[str, Any] | None = None
    try:
        for procs in args.procs:
            best = None
            for _ in range(args.repeat):
                wall, scores, totals = run_once(procs, args, work)
                if best is None or wall < best[0]:
                    best = (wall, scores, totals)
            assert best is not None
            wall, scores, totals = best
            if reference is None:
                reference = scores
            rows.append((procs, wall, totals, scores == reference))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = rows[0][1]
    print(f"{'procs':>5} {'wall s':>8} {'speed-up':>8} {'encode s':>9} {'pages/s':>8} {'score s':>8} {'eval s':>7} "
          f"{'identical scores':>16}")
    for procs, wall, t, same in rows:
        encode = t["query_encoding"] + t["page_encoding"]
        rate = t["pages"] / t["page_encoding"] if t["page_encoding"] else float("nan")
        print(f"{procs:>5} {wall:>8.1f} {base / wall:>8.2f} {encode:>9.1f} {rate:>8.1f} {t['scoring']:>8.2f} "
              f"{t['evaluation']:>7.2f} {'yes' if same else 'NO':>16}")
    print("encode s, pages/s: rank 0's wall time for encoding (all ranks work meanwhile), summed over subsets; "
          f"{int(rows[0][2]['pages'])} pages and {int(rows[0][2]['queries'])} queries encoded per run")
    print(" ".join(f"wall_{p}={w:.1f}" for p, w, _, _ in rows) + " identical=" +
          str(all(same for *_, same in rows)).lower())


if __name__ == "__main__":
    main()
