"""Cold-start benchmark: each greenpipe Lambda binary against a boto3 peer, from spawn to the first event poll.

Called by bench/cold_start.sh (which sets up the virtualenv); see bench/README.md, "Cold start".

A Lambda function's init phase ends when its runtime asks the Runtime API for the first event
(`GET /2018-06-01/runtime/invocation/next`). This script plays that API on 127.0.0.1 and starts each
function's release binary as Lambda would: a fresh process whose environment is the deployed one
(infra/template.yaml's variables for that function, the variables Lambda itself sets, fake credentials).
Measured per start: wall time from just before the spawn to the arrival of that first request, and the
process's RSS (VmRSS) at that moment, read while the process waits for its answer. The request is never
answered: the process is killed and the next start begins. The peer, bench/cold_start_peer.py, is a
Python function that imports boto3 and builds the same clients, started the same way with the same
environment and measured the same way.

Starts are interleaved (every round: every function, greenpipe and its peer, alternating which goes first)
so a slow spell of the machine falls on both alike; each figure is the median (and min) over the rounds.
Exit status: 0 when every start reached the Runtime API and every boto3/greenpipe time ratio is at least
--min-ratio, 1 otherwise, 2 for a usage or setup error (such as a missing binary).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from cold_start_peer import CLIENTS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
TEMPLATE = ROOT / "infra" / "template.yaml"
PEER = HERE / "cold_start_peer.py"
FUNCTIONS = list(CLIENTS)
MB = 1_000_000
NEXT_PATH = "/2018-06-01/runtime/invocation/next"

# What the template's intrinsic functions resolve to: a stack named as in infra/samconfig.toml, in a
# made-up account. Only names and ARNs come out of them; no function contacts anything at startup.
STACK = "greenpipe"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "greenpipe-bench"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::StackName": STACK,
          "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}
# CloudFormation names resources <stack>-<logical id>-<12 random characters>.
NAME_SUFFIX = "BENCHCOLD001"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ the deployed environment, from the template

class Tagged:
    """A CloudFormation short-form intrinsic (`!Ref X`, `!Sub "..."`), kept for resolve()."""

    def __init__(self, tag: str, value):
        self.tag, self.value = tag, value


class TemplateLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: TemplateLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tagged(suffix, value)


TemplateLoader.add_multi_constructor("!", _intrinsic)


class Template:
    """infra/template.yaml with its intrinsics resolved to literal values of a made-up deployment."""

    def __init__(self, path: Path):
        self.doc = yaml.load(path.read_text(), Loader=TemplateLoader)
        self.resources = self.doc["Resources"]
        self.parameters = self.doc.get("Parameters", {})
        self.globals = self.doc.get("Globals", {}).get("Function", {})

    def physical_name(self, logical: str) -> str:
        if logical == "DataBucket":
            return BUCKET
        return f"{STACK}-{logical}-{NAME_SUFFIX}"

    def ref(self, name: str):
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.parameters:
            p = self.parameters[name]
            default = str(p.get("Default", ""))
            # A list parameter stays a list for !Join.
            return default.split(",") if p.get("Type", "").startswith("CommaDelimitedList") else default
        if name in self.resources:
            return self.physical_name(name)
        raise SystemExit(f"{TEMPLATE}: cannot resolve !Ref {name}")

    def get_att(self, name: str) -> str:
        logical, _, attr = name.partition(".")
        kind = self.resources.get(logical, {}).get("Type")
        if attr == "Arn" and kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{self.physical_name(logical)}"
        if attr == "Arn" and kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{self.physical_name(logical)}"
        if attr == "Arn" and kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.physical_name(logical)}"
        raise SystemExit(f"{TEMPLATE}: cannot resolve !GetAtt {name} (add it to cold_start.py's Template)")

    def resolve(self, value):
        if isinstance(value, Tagged):
            if value.tag == "Ref":
                return self.ref(value.value)
            if value.tag == "GetAtt":
                name = ".".join(value.value) if isinstance(value.value, list) else value.value
                return self.get_att(name)
            if value.tag == "Join":
                sep, items = value.value
                if isinstance(items, Tagged):  # !Join [",", !Ref SomeListParameter]
                    items = [items]
                parts = []
                for item in items:
                    r = self.resolve(item)
                    parts += r if isinstance(r, list) else [r]
                return sep.join(str(p) for p in parts)
            if value.tag == "Sub":
                text, extra = (value.value, {}) if isinstance(value.value, str) else value.value
                extra = {k: self.resolve(v) for k, v in extra.items()}

                def one(m: re.Match) -> str:
                    name = m.group(1)
                    if name in extra:
                        return str(extra[name])
                    return str(self.get_att(name) if "." in name else self.ref(name))

                return re.sub(r"\$\{([^}!]+)\}", one, text)
            raise SystemExit(f"{TEMPLATE}: cannot resolve !{value.tag} (add it to cold_start.py's Template)")
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, list) else str(value)

    def function(self, name: str) -> tuple[str, dict]:
        """The logical id and properties of the function whose CodeUri is ../functions/<name>."""
        for logical, res in self.resources.items():
            code = str(res.get("Properties", {}).get("CodeUri", ""))
            if res.get("Type") == "AWS::Serverless::Function" and code.rstrip("/").endswith(f"functions/{name}"):
                return logical, res["Properties"]
        raise SystemExit(f"{TEMPLATE}: no AWS::Serverless::Function with CodeUri ../functions/{name}")

    def deployed_env(self, name: str, api: str, home: str) -> dict[str, str]:
        """The environment Lambda gives the function: its template variables (Globals first) and Lambda's own."""
        logical, props = self.function(name)
        fn_name = self.physical_name(logical)
        memory = self.resolve(props.get("MemorySize", self.globals.get("MemorySize", 128)))
        log_format = props.get("LoggingConfig", {}).get("LogFormat", "Text")
        env = {
            # The process basics of a Lambda execution environment. C.UTF-8 stands for Lambda's en_US.UTF-8,
            # which this machine may not have. HOME is an empty folder: no ~/.aws profile files, as in Lambda.
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "HOME": home,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": "bootstrap",
            "AWS_LAMBDA_RUNTIME_API": api,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_FUNCTION_NAME": fn_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]0123456789abcdef0123456789abcdef",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # The execution role's temporary credentials, as Lambda passes them (fake: nothing is signed
            # before the first event anyway).
            "AWS_ACCESS_KEY_ID": "ASIABENCHCOLDSTART01",
            "AWS_SECRET_ACCESS_KEY": "benchColdStartSecretAccessKey0000000000",
            "AWS_SESSION_TOKEN": "benchColdStartSessionToken",
            # Nothing may reach AWS during the benchmark: every SDK endpoint is a closed loopback port, and
            # IMDS is off (region and credentials come from the environment, so neither SDK asks it anyway).
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if props.get("Tracing", self.globals.get("Tracing")) == "Active":
            env["AWS_XRAY_DAEMON_ADDRESS"] = "169.254.79.129:2000"
            env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        if log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        for source in (self.globals, props):
            for key, value in source.get("Environment", {}).get("Variables", {}).items():
                env[key] = self.resolve(value)
        return env


# ------------------------------------------------------------------ the loopback Runtime API

class Start:
    """One measured start: filled in by the Runtime API thread when the process asks for its first event."""

    def __init__(self):
        self.pid: int | None = None
        self.pid_known = threading.Event()
        self.arrived = threading.Event()
        self.t_ns: int | None = None
        self.rss_kb: int | None = None
        self.hwm_kb: int | None = None
        self.request = ""
        self.conn: socket.socket | None = None


class RuntimeApi:
    """The Lambda Runtime API as far as a cold start goes.

    A plain socket loop rather than http.server: the arrival time is taken the moment the request head is
    in, with no per-request thread or handler machinery in between. One start at a time: the previous
    process is killed and reaped before the next is spawned, so the request belongs to the current start.
    """

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.current: Start | None = None
        threading.Thread(target=self._serve, name="runtime-api", daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            conn.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
            except OSError:
                pass
            t_ns = time.perf_counter_ns()
            start = self.current
            request = head.split(b"\r\n", 1)[0].decode("latin-1")
            if start is None or start.arrived.is_set():
                conn.close()  # from a process no longer measured
                continue
            start.t_ns, start.request, start.conn = t_ns, request, conn
            if request.startswith(f"GET {NEXT_PATH} "):
                # The request can come in before Popen has returned the pid to the main thread; the process
                # waits for our answer meanwhile, so its RSS is still that of the moment of the request.
                if start.pid_known.wait(5):
                    start.rss_kb, start.hwm_kb = rss_of(start.pid)
            start.arrived.set()
            # The connection stays open, unanswered, until the main thread has killed the process.


def rss_of(pid: int) -> tuple[int | None, int | None]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
    except OSError:
        pass
    return fields.get("VmRSS"), fields.get("VmHWM")


def measure(api: RuntimeApi, argv: list[str], env: dict[str, str], timeout: float, log_path: Path) -> dict:
    """Spawn argv once; return ms from spawn to its first GET .../next and its RSS then, or an error."""
    start = Start()
    api.current = start
    with open(log_path, "wb") as out:
        t0 = time.perf_counter_ns()
        # A session of its own, so a kill takes anything it started with it.
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        start.pid = proc.pid
        start.pid_known.set()
        deadline = time.monotonic() + timeout
        timed_out = False
        # Wait in short slices so a process that exits early (a config error) is noticed at once. The wait
        # releases the GIL, so the Runtime API thread stamps the arrival without delay.
        while not start.arrived.wait(0.02):
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
        exited = proc.poll()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    api.current = None
    if start.conn is not None:
        start.conn.close()
    if not start.arrived.is_set():
        why = (f"did not ask for an event within {timeout:g} s" if timed_out
               else f"exited with status {exited} before asking for an event")
        return {"error": f"{why}; output: {tail(log_path)}"}
    if not start.request.startswith(f"GET {NEXT_PATH} "):
        return {"error": f"first request was {start.request!r}, not GET {NEXT_PATH}; output: {tail(log_path)}"}
    if start.rss_kb is None or start.hwm_kb is None:
        return {"error": "could not read the process's RSS"}
    return {"ms": (start.t_ns - t0) / 1e6, "rss_mb": start.rss_kb * 1024 / MB, "hwm_mb": start.hwm_kb * 1024 / MB}


def tail(path: Path, lines: int = 6) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) if text else "(none)"


# ------------------------------------------------------------------ setup, report

def cargo_build(functions: list[str]) -> None:
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache/greenpipe/target")
    log(f"building {', '.join(functions)} (release) into {target} ...")
    packages = [arg for f in functions for arg in ("-p", f)]
    if subprocess.run(["cargo", "build", "--release", *packages], cwd=ROOT,
                      env={**os.environ, "CARGO_TARGET_DIR": target}).returncode != 0:
        raise SystemExit("the functions did not build; fix that, or pass --no-build / --bin-dir")


def command_output(argv: list[str]) -> str | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    from importlib.metadata import version

    return {"python": platform.python_version(), "boto3": version("boto3"), "botocore": version("botocore"),
            "rustc": command_output(["rustc", "-V"]),
            "greenpipe_commit": command_output(["git", "rev-parse", "--short", "HEAD"]),
            "greenpipe_tree_dirty": bool(command_output(["git", "status", "--porcelain", "--", "shared",
                                                         "functions", "Cargo.lock"]))}


def machine(cpu: str) -> dict:
    model = None
    try:
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                      if line.startswith("model name")), None)
    except OSError:
        pass
    return {"arch": platform.machine(), "nproc": command_output(["nproc"]) or str(os.cpu_count()),
            "cpu_model": model, "kernel": platform.release(), "pinned_cpu": cpu or None,
            "load_average_after": os.getloadavg()}


def summarise(runs: list[dict]) -> dict:
    ms = [r["ms"] for r in runs if "ms" in r]
    rss = [r["rss_mb"] for r in runs if "rss_mb" in r]
    out = {"runs": runs, "ok": bool(ms) and all("error" not in r for r in runs)}
    if ms:
        out.update(median_ms=statistics.median(ms), min_ms=min(ms), max_ms=max(ms),
                   median_rss_mb=statistics.median(rss), max_hwm_mb=max(r["hwm_mb"] for r in runs if "hwm_mb" in r))
    return out


def table(results: dict) -> str:
    head = ("| function | greenpipe ms (median / min) | greenpipe RSS MB | boto3 ms (median / min) | boto3 RSS MB "
            "| ratio (boto3 / greenpipe time) | binary MB |")
    rows = [head, "|" + "---|" * 7]
    for fn, r in results.items():
        def cell(side: dict) -> tuple[str, str]:
            if "median_ms" not in side:
                return "failed", "-"
            return f"{side['median_ms']:.1f} / {side['min_ms']:.1f}", f"{side['median_rss_mb']:.1f}"

        (gt, grss), (bt, brss) = cell(r["greenpipe"]), cell(r["boto3"])
        ratio = f"{r['ratio']:.1f}x" if r.get("ratio") else "-"
        rows.append(f"| {fn} | {gt} | {grss} | {bt} | {brss} | {ratio} | {r['binary_mb']:.2f} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/cold_start.sh",
                                 description="greenpipe Lambda cold start against boto3 (see bench/README.md)")
    ap.add_argument("--repeat", type=int, default=20, help="measured starts per function and side (default 20)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="unmeasured rounds first, so the page cache holds the binaries and Python's modules "
                         "(default 1)")
    ap.add_argument("--functions", default=",".join(FUNCTIONS), help="comma-separated subset (default: all seven)")
    ap.add_argument("--bin-dir", type=Path,
                    help="folder holding the function binaries (default $CARGO_TARGET_DIR/release); implies "
                         "--no-build")
    ap.add_argument("--no-build", action="store_true", help="use the binaries as they are")
    ap.add_argument("--cpu", default="0", help="core every started process is pinned to (taskset -c; '' for none)")
    ap.add_argument("--min-ratio", type=float, default=20.0,
                    help="exit 1 when a function's boto3/greenpipe median time ratio is below this (default 20)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds a start may take (default 10)")
    args = ap.parse_args()
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    if not functions or any(f not in FUNCTIONS for f in functions):
        ap.error(f"--functions: choose from {','.join(FUNCTIONS)}")
    if args.repeat < 1 or args.warmup < 0 or args.timeout <= 0:
        ap.error("--repeat must be at least 1, --warmup at least 0, --timeout positive")

    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/greenpipe/target")
    bin_dir = (args.bin_dir or target / "release").resolve()
    if not args.bin_dir and not args.no_build:
        cargo_build(functions)
    binaries = {f: bin_dir / f for f in functions}
    missing = [str(p) for p in binaries.values() if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        log("missing function binaries:\n  " + "\n  ".join(missing))
        if args.bin_dir:
            log("point --bin-dir at the folder that holds them, or leave it out to build them")
        else:
            packages = " ".join(f"-p {f}" for f, p in binaries.items() if str(p) in missing)
            log(f"build them (CARGO_TARGET_DIR={target} cargo build --release {packages}), run without "
                f"--no-build, or point --bin-dir at the folder that holds them")
        return 2
    taskset = ["taskset", "-c", args.cpu] if args.cpu and shutil.which("taskset") else []
    if args.cpu and not taskset:
        log("taskset not found (package util-linux): starts are not pinned to a core")

    template = Template(TEMPLATE)
    api = RuntimeApi()
    home = tempfile.mkdtemp(prefix="greenpipe-cold-start-home-")
    atexit.register(shutil.rmtree, home, True)
    envs = {f: template.deployed_env(f, api.address, home) for f in functions}
    logs = OUT / "cold_start_logs"
    logs.mkdir(parents=True, exist_ok=True)
    argv = {f: {"greenpipe": taskset + [str(binaries[f])],
                # The venv's interpreter as Lambda's Python runtime runs it: frozen stdlib modules, site on.
                "boto3": taskset + [sys.executable, "-X", "frozen_modules=on", str(PEER), f]}
            for f in functions}

    arch = platform.machine()
    note = (f"greenpipe: host {arch} release builds of the same code as the arm64 Lambda artifacts "
            f"(figures on Lambda's arm64 differ)" if arch != "aarch64" else
            "greenpipe: host aarch64 release builds, the architecture the Lambda artifacts are built for")
    log(note)
    log(f"{args.warmup} warm-up + {args.repeat} measured rounds of {len(functions)} functions, "
        f"greenpipe and boto3 each; Runtime API at {api.address}; pinned to "
        f"{'cpu ' + args.cpu if taskset else 'no core'}")

    runs: dict[str, dict[str, list]] = {f: {"greenpipe": [], "boto3": []} for f in functions}
    started = time.time()
    load_before = os.getloadavg()  # other work on the machine shows up in the spread; keep a record
    for k in range(args.warmup + args.repeat):
        warm = k < args.warmup
        log(f"warm-up round {k + 1} of {args.warmup}" if warm else f"round {k + 1 - args.warmup} of {args.repeat}")
        # Alternate which side goes first, so neither always runs right after the other.
        sides = ("greenpipe", "boto3") if k % 2 == 0 else ("boto3", "greenpipe")
        for f in functions:
            for side in sides:
                r = measure(api, argv[f][side], envs[f], args.timeout, logs / f"{f}.{side}.log")
                if "error" in r:
                    log(f"  {f} ({side}): {r['error']}")
                if not warm:
                    runs[f][side].append(r)

    results = {}
    for f in functions:
        g, b = summarise(runs[f]["greenpipe"]), summarise(runs[f]["boto3"])
        ratio = b["median_ms"] / g["median_ms"] if "median_ms" in g and "median_ms" in b else None
        # The environment as started, less what changes every run (the API's port, the temporary HOME).
        env = {k: v for k, v in envs[f].items() if k not in ("AWS_LAMBDA_RUNTIME_API", "HOME")}
        results[f] = {"greenpipe": g, "boto3": b, "ratio": ratio, "clients": CLIENTS[f],
                      "binary": str(binaries[f]), "binary_mb": binaries[f].stat().st_size / MB,
                      "binary_mtime": datetime.fromtimestamp(binaries[f].stat().st_mtime, timezone.utc).isoformat(),
                      "env": env}

    v, m = versions(), {**machine(args.cpu if taskset else ""), "load_average_before": load_before}
    print(f"\n{note}.")
    print(f"Spawn -> first GET {NEXT_PATH}, median / min of {args.repeat} starts after {args.warmup} warm-up "
          f"round(s); RSS at that moment. boto3 {v['boto3']} (botocore {v['botocore']}), Python {v['python']}; "
          f"{v['rustc']}; {m['arch']}, nproc {m['nproc']}.\n")
    print(table(results))

    failed = [f"{f} ({side}): {r['error']}" for f in functions for side in ("greenpipe", "boto3")
              for r in runs[f][side] if "error" in r]
    low = [f"{f}: {r['ratio']:.1f}x" for f, r in results.items()
           if r["ratio"] is not None and r["ratio"] < args.min_ratio]
    out = {
        "started_unix": int(started), "note": note, "what": f"spawn -> first GET {NEXT_PATH}, RSS then",
        "machine": m, "versions": v,
        "repeat": args.repeat, "warmup": args.warmup, "min_ratio": args.min_ratio,
        "peer_argv": ["python", "-X", "frozen_modules=on", "bench/cold_start_peer.py", "<function>"],
        "results": results, "failed": failed, "below_min_ratio": low,
    }
    path = OUT / "cold_start.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    if failed:
        print(f"\nFAIL: {len(failed)} start(s) did not reach the Runtime API:", file=sys.stderr)
        for line in dict.fromkeys(failed):  # each distinct error once, not once per round
            print(f"  - {line}", file=sys.stderr)
    if low:
        print(f"\nFAIL: boto3/greenpipe ratio below --min-ratio {args.min_ratio:g}: {', '.join(low)}",
              file=sys.stderr)
    if failed or low:
        return 1
    print(f"OK: every function reached the Runtime API on every start; every ratio >= {args.min_ratio:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
