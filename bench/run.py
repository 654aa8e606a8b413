"""Run the validation benchmark: generate the data, validate it with every tool, compare, print, record.

Called by bench/validate.sh (which sets up the virtualenv); see bench/README.md. Each tool runs in its own
process, one after another, pinned to one core (taskset -c 0) with every thread-count knob at 1. Wall time
is measured around the process, in rounds (--repeat, default 3: every tool once per round, so a slow spell of
the machine falls on all of them) and each tool's figure is its median run; peak RSS is the process's own ru_maxrss, from wait4() (what
/usr/bin/time -v reports). The file is read once before each tool so every tool starts from a warm page
cache. Exit status: 0 when every tool found the same number of bad rows as the generator planted, 1 when
they disagree (or a tool failed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
MB = 1_000_000
TOOLS = ["greenpipe", "pandera", "pyarrow", "polars"]
RSS_TARGET_MB = 64
SPEED_TARGET = 3.0

SINGLE_THREAD_ENV = {
    "POLARS_MAX_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_MAX_THREADS": "1",
    "ARROW_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",
    "TOKIO_WORKER_THREADS": "1",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_greenpipe() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/greenpipe/target")
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    log(f"building greenpipe (release) into {target} ...")
    build = subprocess.run(["cargo", "build", "--release", "-p", "greenpipe-cli"], cwd=ROOT, env=env)
    if build.returncode != 0:
        log("greenpipe did not build; fix it, or pass --greenpipe PATH, or leave greenpipe out of --tools")
        raise SystemExit(2)
    exe = target / "release" / "greenpipe"
    if not exe.is_file():
        raise SystemExit(f"cargo build succeeded but {exe} is missing")
    return exe


def warm(path: Path) -> None:
    """Read the file once so every tool starts from the same (warm) page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def measure(cmd: list[str], stdout: Path, stderr: Path, cpu: str) -> dict:
    """Run cmd pinned to one core; return wall and CPU seconds, peak RSS (MB) and the exit code."""
    env = {**os.environ, **SINGLE_THREAD_ENV}
    argv = (["taskset", "-c", cpu] if shutil.which("taskset") else []) + cmd
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=HERE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    # Linux reports ru_maxrss in KiB.
    return {"seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss * 1024 / MB, "exit_code": proc.returncode}


def greenpipe_counts(report: dict) -> dict:
    """Bad rows and cells from a greenpipe JSON report (shared/src/validate/report.rs)."""
    rules = report.get("rules", [])
    cells = sum(int(r.get("failed_rows", 0)) for r in rules if not r.get("passed", True))
    # A distinct-row total, if the report carries one; otherwise the generator's one-bad-cell-per-bad-row
    # design makes failing cells and failing rows the same number.
    rows = next((int(report[k]) for k in ("bad_rows", "invalid_rows", "failed_rows", "rows_failed")
                 if isinstance(report.get(k), int)), cells)
    failed = {r.get("rule", "?"): int(r.get("failed_rows", 0)) for r in rules if not r.get("passed", True)}
    return {"bad_rows": rows, "bad_cells": cells, "violation_count": report.get("violation_count"),
            "failed_rules": failed, "rows": report.get("rows"),
            "in_tool_seconds": report.get("duration_ms", 0) / 1000}


def is_greenpipe(tool: str) -> bool:
    """greenpipe itself, or another build of it given with --variant (`greenpipe@LABEL`)."""
    return tool == "greenpipe" or tool.startswith("greenpipe@")


def run_tool(tool: str, data: Path, contract: Path, exes: dict[str, Path], tag: str, cpu: str) -> dict:
    stdout = OUT / f"{tag}.{tool}.out.json"
    stderr = OUT / f"{tag}.{tool}.err.txt"
    if is_greenpipe(tool):
        cmd = [str(exes[tool]), "validate", str(data), "--contract", str(contract), "--json"]
    else:
        cmd = [sys.executable, str(HERE / "peers.py"), tool, str(data)]
    warm(data)
    log(f"  {tool} ...")
    m = measure(cmd, stdout, stderr, cpu)
    result = {"tool": tool, **m, "error": None}
    # greenpipe exits 1 when the data breaks the contract (expected here), 2 on a usage/contract/read error.
    ok_codes = (0, 1) if is_greenpipe(tool) else (0,)
    try:
        if m["exit_code"] not in ok_codes:
            raise RuntimeError(f"exit code {m['exit_code']}")
        parsed = json.loads(stdout.read_text())
        if is_greenpipe(tool):
            result.update(greenpipe_counts(parsed))
            if parsed.get("fatal"):
                raise RuntimeError(f"fatal: {parsed['fatal']}")
        else:
            result.update({k: parsed[k] for k in ("rows", "bad_rows", "bad_cells", "bad_cells_by_column")})
            result["in_tool_seconds"] = parsed["seconds"]
    except Exception as e:  # noqa: BLE001 - any failure of a tool is reported, and fails the run
        tail = stderr.read_text(errors="replace")[-2000:]
        result["error"] = f"{e}; stderr tail:\n{tail}"
    return result


def run_size(size_mb: float, tools: list[str], exes: dict[str, Path], seed: int, cpu: str, repeat: int) -> dict:
    tag = f"data_{size_mb:g}mb"
    data = OUT / f"{tag}.csv"
    log(f"== {size_mb:g} MB ==")
    gen = [sys.executable, str(HERE / "gen.py"), str(data), str(size_mb), "--seed", str(seed)]
    subprocess.run(gen, check=True)
    meta = json.loads(Path(str(data) + ".meta.json").read_text())
    contract = OUT / "bench.yaml"
    contract.write_text(spec.contract_yaml("bench"))
    size = data.stat().st_size
    # Rounds: every tool once per round, in the same order, so a slow spell of the machine (single-core
    # speed on a VM swings by tens of percent) falls on all tools alike. A tool's figure is its median run.
    rounds = []
    for k in range(repeat):
        if repeat > 1:
            log(f" round {k + 1} of {repeat}")
        rounds.append([run_tool(t, data, contract, exes, tag, cpu) for t in tools])
    for r in (r for rnd in rounds for r in rnd):
        r["mb_per_s"] = size / MB / r["seconds"]
        r["mb_per_cpu_s"] = size / MB / max(r["cpu_seconds"], 1e-9)
    results = [median_run([rnd[i] for rnd in rounds]) for i in range(len(tools))]
    expected = meta["bad_rows"]
    problems = []
    for r in (r for rnd in rounds for r in rnd):
        if r["error"]:
            problems.append(f"{r['tool']} failed: {r['error']}")
            continue
        if r.get("rows") != meta["rows"]:
            problems.append(f"{r['tool']} read {r.get('rows')} rows, the file has {meta['rows']}")
        if r["bad_rows"] != expected:
            problems.append(f"{r['tool']} found {r['bad_rows']} bad rows, the generator planted {expected}")
        if r.get("bad_cells") is not None and r["bad_cells"] != expected:
            problems.append(f"{r['tool']} found {r['bad_cells']} bad cells, the generator planted {expected}")
    return {"size_mb": size_mb, "file": str(data.relative_to(ROOT)), "bytes": size, "rows": meta["rows"],
            "planted_bad_rows": expected, "planted_by_kind": meta["bad_rows_by_kind"], "tools": results,
            "rounds": rounds, "round_ratios": round_ratios(rounds), "problems": problems}


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the lower middle one for an even count), with every run's
    seconds and peak RSS alongside; peak RSS is the largest of all runs."""
    ok = [r for r in runs if not r["error"]] or runs
    mid = sorted(ok, key=lambda r: r["seconds"])[(len(ok) - 1) // 2]
    return {**mid, "runs": len(runs), "all_seconds": [round(r["seconds"], 3) for r in runs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ok)}


def round_ratios(rounds: list[list[dict]]) -> list[float]:
    """Per round: greenpipe's MB/s over the fastest peer's in that round."""
    out = []
    for rnd in rounds:
        gp = next((r for r in rnd if r["tool"] == "greenpipe" and not r["error"]), None)
        peers = [r for r in rnd if not is_greenpipe(r["tool"]) and not r["error"]]
        if gp and peers:
            out.append(round(gp["mb_per_s"] / max(p["mb_per_s"] for p in peers), 2))
    return out


def print_table(run: dict) -> None:
    rows = run["tools"]
    gp = next((r for r in rows if r["tool"] == "greenpipe" and not r["error"]), None)
    print(f"\n{run['size_mb']:g} MB: {run['bytes'] / MB:.1f} MB, {run['rows']:,} rows, "
          f"{run['planted_bad_rows']} bad rows planted ({run['file']})")
    head = (f"{'tool':<26}{'seconds':>9}{'cpu s':>8}{'in-tool s':>11}{'MB/s':>8}{'peak RSS MB':>13}"
            f"{'bad rows':>10}{'greenpipe x':>13}")
    print(head)
    print("-" * len(head))
    for r in rows:
        name = {"pandera": "pandas+pandera"}.get(r["tool"], r["tool"])
        if r["error"]:
            print(f"{name:<26}{'FAILED (see results.json)':>40}")
            continue
        ratio = f"{gp['mb_per_s'] / r['mb_per_s']:.1f}x" if gp and r is not gp else ""
        spread = ""
        if r.get("runs", 1) > 1:
            spread = f"  (runs: {', '.join(f'{x:.2f}' for x in r['all_seconds'])} s)"
        print(f"{name:<26}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}{r.get('in_tool_seconds', 0):>11.2f}"
              f"{r['mb_per_s']:>8.1f}{r['peak_rss_mb']:>13.1f}{r['bad_rows']:>10}{ratio:>13}{spread}")
    if len(run.get("round_ratios", [])) > 1:
        print(f"greenpipe / fastest peer, round by round: {', '.join(f'{x:.2f}x' for x in run['round_ratios'])}")


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/validate.sh",
                                 description="greenpipe validation benchmark (see bench/README.md)")
    ap.add_argument("size_mb", nargs="?", type=float, default=None, help="CSV size in MB (default 1000)")
    ap.add_argument("--sizes", help="comma-separated sizes in MB, e.g. 100,1000 (the memory claim)")
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--cpu", default="0", help="the core every tool is pinned to (taskset -c)")
    ap.add_argument("--greenpipe", type=Path, help="use this greenpipe binary instead of building one")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH",
                    help="also run this greenpipe binary, as greenpipe@LABEL, in the same rounds (repeatable): "
                         "e.g. an earlier commit's build, or one with other build settings")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of every tool; each tool's figure is its median run (default 3)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    if args.sizes and args.size_mb is not None:
        ap.error("give either SIZE_MB or --sizes")
    try:
        sizes = [float(s) for s in args.sizes.split(",")] if args.sizes else [args.size_mb or 1000.0]
    except ValueError:
        ap.error(f"bad --sizes: {args.sizes}")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown or not tools:
        ap.error(f"unknown tools {unknown}; choose from {TOOLS}")
    if any(s <= 0 for s in sizes):
        ap.error("sizes must be positive")

    variants = {}
    for v in args.variant:
        label, sep, path = v.partition("=")
        if not sep or not label or not Path(path).is_file():
            ap.error(f"bad --variant {v!r}: give LABEL=PATH to an existing binary")
        variants[f"greenpipe@{label}"] = Path(path).resolve()
    tools += list(variants)

    OUT.mkdir(exist_ok=True)
    exe = None
    if "greenpipe" in tools:
        exe = args.greenpipe.resolve() if args.greenpipe else build_greenpipe()
    exes = {**variants, **({"greenpipe": exe} if exe else {})}

    started = time.time()
    runs = [run_size(s, tools, exes, args.seed, args.cpu, args.repeat) for s in sizes]

    for run in runs:
        print_table(run)
    summary = []
    for run in runs:
        gp = next((r for r in run["tools"] if r["tool"] == "greenpipe" and not r["error"]), None)
        peers = [r for r in run["tools"] if not is_greenpipe(r["tool"]) and not r["error"]]
        if gp and peers:
            fastest = max(peers, key=lambda r: r["mb_per_s"])
            ratio = gp["mb_per_s"] / fastest["mb_per_s"]
            fastest_cpu = max(peers, key=lambda r: r["mb_per_cpu_s"])
            cpu_ratio = gp["mb_per_cpu_s"] / fastest_cpu["mb_per_cpu_s"]
            run["targets"] = {
                "fastest_peer": fastest["tool"], "speed_ratio": ratio, "speed_target": SPEED_TARGET,
                "speed_met": ratio >= SPEED_TARGET, "cpu_time_ratio": cpu_ratio,
                "fastest_peer_by_cpu_time": fastest_cpu["tool"], "greenpipe_rss_mb": gp["peak_rss_mb"],
                "rss_target_mb": RSS_TARGET_MB, "rss_met": gp["peak_rss_mb"] <= RSS_TARGET_MB,
            }
            summary.append(
                f"{run['size_mb']:g} MB: greenpipe {ratio:.1f}x the fastest peer ({fastest['tool']}) "
                f"[target >= {SPEED_TARGET:g}x: {'met' if ratio >= SPEED_TARGET else 'NOT met'}] "
                f"(by CPU time: {cpu_ratio:.1f}x {fastest_cpu['tool']}); "
                f"peak RSS {gp['peak_rss_mb']:.1f} MB "
                f"[target <= {RSS_TARGET_MB} MB: "
                f"{'met' if gp['peak_rss_mb'] <= RSS_TARGET_MB else 'NOT met'}]"
            )
    if summary:
        print()
        print("\n".join(summary))

    results = {
        "started_unix": int(started),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "pinned_cpu": args.cpu,
                    "python": platform.python_version()},
        "versions": versions(exe),
        "variants": {k: str(v) for k, v in variants.items()},
        "rules": spec.COLUMNS,
        "runs": runs,
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {(OUT / 'results.json').relative_to(ROOT)}")

    problems = [p for run in runs for p in run["problems"]]
    if problems:
        print("\nFAIL: the tools disagree (or one failed):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"OK: every tool found the {', '.join(str(r['planted_bad_rows']) for r in runs)} planted bad rows")
    return 0


def versions(exe: Path | None) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("pandas", "pandera", "pyarrow", "polars", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    if exe:
        try:
            out["greenpipe"] = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                                              timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out["greenpipe"] = None
    return out


if __name__ == "__main__":
    sys.exit(main())
