"""Generate the benchmark CSV deterministically (seeded) and record the ground truth.

Usage: gen.py OUT.csv SIZE_MB [--seed N]

Writes OUT.csv (~SIZE_MB MB, 20 mixed columns, ~0.1 % bad rows; each bad row has exactly one bad cell,
see spec.BAD_KINDS) and OUT.csv.meta.json (rows, bytes, bad rows per kind). The same arguments always
give the same bytes. Columns are built with numpy and formatted with polars in chunks, so memory stays
bounded and 1 GB takes well under a minute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

import spec

GENERATOR_VERSION = 3
CHUNK_ROWS = 250_000
BAD_RATE = 0.001
MB = 1_000_000

COMMENTS = [
    "ok",
    "great, would buy again",
    'said "hello" twice',
    "fast delivery",
    "late; box damaged",
    "néant — rien à dire",
    "5 stars",
]
EPOCH_2015 = 1_420_070_400  # 2015-01-01T00:00:00Z
EPOCH_2026 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY_2000 = 10_957  # 2000-01-01 in days since the epoch
DAY_2030 = 22_279  # 2030-12-31


def fixed(v: pl.Expr, decimals: int) -> pl.Expr:
    """Format an integer expression holding value * 10^decimals as a fixed-point decimal string."""
    scale = 10**decimals
    sign = pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    a = v.abs()
    return pl.concat_str(
        [sign, (a // scale).cast(pl.String), pl.lit("."), (a % scale).cast(pl.String).str.zfill(decimals)]
    )


def chunk(index: int, start: int, n: int, seed: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """Rows start+1 .. start+n of the dataset, as strings, plus the bad cells planted per kind."""
    rng = np.random.default_rng([seed, index])
    null = lambda p: rng.random(n) < p  # noqa: E731
    raw = pl.DataFrame(
        {
            "id": np.arange(start + 1, start + n + 1, dtype=np.int64),
            "user_id": rng.integers(0, 10_000_001, n),
            "age": rng.integers(0, 121, n),
            "quantity": rng.integers(1, 1001, n),
            "price": rng.integers(0, 10_000_001, n),  # cents, <= 100000.00
            "discount": rng.integers(0, 1001, n),  # thousandths, <= 1.000
            "score": rng.integers(-10_000_000, 10_000_001, n),  # 1e-4, within +-1000
            "latitude": rng.integers(-9_000_000, 9_000_001, n),  # 1e-5, within +-90
            "sku_a": rng.integers(0, 26, n),
            "sku_b": rng.integers(0, 26, n),
            "sku_c": rng.integers(0, 26, n),
            "sku_d": rng.integers(0, 10_000, n),
            "country": rng.integers(0, len(spec.COUNTRIES), n),
            "status": rng.integers(0, len(spec.STATUSES), n),
            "channel": rng.integers(0, len(spec.CHANNELS), n),
            "is_active": rng.random(n) < 0.7,
            "verified": rng.random(n) < 0.5,
            "signup_date": rng.integers(DAY_2000, DAY_2030 + 1, n),
            "last_login": rng.integers(EPOCH_2015, EPOCH_2026, n),
            "event_time": rng.integers(EPOCH_2015, EPOCH_2026, n),
            "comment": rng.integers(0, len(COMMENTS), n),
            "n_age": null(0.03),
            "n_discount": null(0.10),
            "n_latitude": null(0.05),
            "n_channel": null(0.05),
            "n_email": null(0.10),
            "n_verified": null(0.20),
            "n_last_login": null(0.15),
            "n_comment": null(0.30),
        }
    )
    bad = rng.random(n) < BAD_RATE
    kind = np.where(bad, rng.integers(0, len(spec.BAD_KINDS), n), -1)
    planted = {k: int(np.count_nonzero(kind == i)) for i, (k, _, _) in enumerate(spec.BAD_KINDS)}
    raw = raw.with_columns(pl.Series("kind", kind))

    def opt(col: str, expr: pl.Expr) -> pl.Expr:
        return pl.when(pl.col(f"n_{col}")).then(pl.lit(None, pl.String)).otherwise(expr)

    ts = lambda c: pl.from_epoch(pl.col(c), time_unit="s").dt.strftime(spec.TIMESTAMP_FORMAT)  # noqa: E731
    alpha = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    letter = lambda c: pl.col(c).replace_strict(list(range(26)), alpha, return_dtype=pl.String)  # noqa: E731
    cols = {
        "id": pl.col("id").cast(pl.String),
        "user_id": pl.col("user_id").cast(pl.String),
        "age": opt("age", pl.col("age").cast(pl.String)),
        "quantity": pl.col("quantity").cast(pl.String),
        "price": fixed(pl.col("price"), 2),
        "discount": opt("discount", fixed(pl.col("discount"), 3)),
        "score": fixed(pl.col("score"), 4),
        "latitude": opt("latitude", fixed(pl.col("latitude"), 5)),
        "sku": pl.concat_str(
            [letter("sku_a"), letter("sku_b"), letter("sku_c"), pl.lit("-"),
             pl.col("sku_d").cast(pl.String).str.zfill(4)]
        ),
        "country": pl.col("country").replace_strict(list(range(len(spec.COUNTRIES))), spec.COUNTRIES),
        "status": pl.col("status").replace_strict(list(range(len(spec.STATUSES))), spec.STATUSES),
        "channel": opt(
            "channel", pl.col("channel").replace_strict(list(range(len(spec.CHANNELS))), spec.CHANNELS)
        ),
        "name": pl.concat_str([pl.lit("user_"), pl.col("user_id").cast(pl.String)]),
        "email": opt(
            "email", pl.concat_str([pl.lit("u"), pl.col("id").cast(pl.String), pl.lit("@example.com")])
        ),
        "is_active": pl.when(pl.col("is_active")).then(pl.lit("true")).otherwise(pl.lit("false")),
        "verified": opt(
            "verified", pl.when(pl.col("verified")).then(pl.lit("true")).otherwise(pl.lit("false"))
        ),
        "signup_date": pl.col("signup_date").cast(pl.Date).dt.strftime(spec.DATE_FORMAT),
        "last_login": opt("last_login", ts("last_login")),
        "event_time": ts("event_time"),
        "comment": opt("comment", pl.col("comment").replace_strict(list(range(len(COMMENTS))), COMMENTS)),
    }
    # Plant the bad cells: one per bad row.
    for i, (_, col, value) in enumerate(spec.BAD_KINDS):
        cols[col] = pl.when(pl.col("kind") == i).then(pl.lit(value, pl.String)).otherwise(cols[col])
    df = raw.select([cols[name].alias(name) for name in spec.NAMES])
    return df, planted


def generate(out: Path, size_mb: float, seed: int) -> dict:
    target = int(size_mb * MB)
    tmp = out.with_suffix(out.suffix + ".tmp")
    planted: dict[str, int] = {k: 0 for k, _, _ in spec.BAD_KINDS}
    rows = 0
    index = 0
    started = time.monotonic()
    with open(tmp, "wb") as f:
        while True:
            written = f.tell()
            if written >= target:
                break
            n = min(CHUNK_ROWS, 20_000)
            if rows > 0:
                # Size the last chunk so the file ends close to the target.
                per_row = written / rows
                n = max(1, min(CHUNK_ROWS, int((target - written) / per_row) + 1))
            df, counts = chunk(index, rows, n, seed)
            df.write_csv(f, include_header=(index == 0), quote_style="necessary")
            for k, v in counts.items():
                planted[k] += v
            rows += n
            index += 1
    os.replace(tmp, out)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "spec_sha256": spec_hash(),
        "seed": seed,
        "size_mb": size_mb,
        "bytes": out.stat().st_size,
        "rows": rows,
        "bad_rows": sum(planted.values()),
        "bad_rows_by_kind": planted,
        "seconds": round(time.monotonic() - started, 2),
    }
    Path(str(out) + ".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def spec_hash() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in ("spec.py", "gen.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("size_mb", type=float)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--force", action="store_true", help="regenerate even if an identical file exists")
    args = ap.parse_args()
    meta_path = Path(str(args.out) + ".meta.json")
    if not args.force and args.out.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if (
            meta.get("spec_sha256") == spec_hash()
            and meta.get("seed") == args.seed
            and meta.get("size_mb") == args.size_mb
            and meta.get("bytes") == args.out.stat().st_size
        ):
            print(f"reusing {args.out} ({meta['bytes'] / MB:.0f} MB, {meta['rows']} rows)", file=sys.stderr)
            return 0
    meta = generate(args.out, args.size_mb, args.seed)
    print(
        f"generated {args.out}: {meta['bytes'] / MB:.0f} MB, {meta['rows']} rows, "
        f"{meta['bad_rows']} bad rows, {meta['seconds']} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
