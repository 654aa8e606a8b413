"""The peers: the same rules (spec.COLUMNS) checked with the tools a Python user would pick.

Usage: peers.py {pandera,pyarrow,polars} FILE.csv

Prints one JSON line: {"tool", "rows", "bad_rows", "bad_cells", "bad_cells_by_column", "seconds"}, where
bad_rows counts rows with at least one violation and bad_cells the violating cells. Every tool reads
every column as text and parses it itself, because a validator must survive values that do not parse
(a typed read would abort on the first one). All run single-threaded: the benchmark script also pins
the process to one core and sets the thread-count variables; they are set here too, before any import
that reads them.
"""

from __future__ import annotations

import json
import os
import sys
import time

for var in ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "ARROW_NUM_THREADS", "RAYON_NUM_THREADS", "NUMEXPR_MAX_THREADS"):
    os.environ.setdefault(var, "1")

import spec  # noqa: E402

FULL_REGEX = f"^(?:{spec.SKU_REGEX})$"


def run_pandera(path: str) -> dict:
    """pandas.read_csv (text columns), then a pandera DataFrameSchema validated with lazy=True.

    Type rules are vectorized pandera Checks on the text (pd.to_numeric / pd.to_datetime with
    errors="coerce", a full-match regex for ints, membership for bools). pandera's own `coerce=True`
    would be the textbook spelling, but on a value that does not parse it falls back to converting
    element by element to find the failure cases (~80 us per value for dates: over a minute for 20 MB),
    so this is the fastest pandera setup, not the slowest.
    """
    import pandas as pd
    import pandera.pandas as pa

    bools = spec.BOOL_TRUE + spec.BOOL_FALSE

    def parser(ty):
        if ty in ("int", "float"):
            return lambda s: pd.to_numeric(s, errors="coerce")
        if ty in ("date", "timestamp"):
            fmt = spec.DATE_FORMAT if ty == "date" else spec.TIMESTAMP_FORMAT
            return lambda s: pd.to_datetime(s, format=fmt, errors="coerce")
        return None

    def range_check(parse, lo, hi):
        # One parse for both bounds. A value that does not parse is the type rule's failure, not this one's.
        # (The function's name must not be a pandera built-in's, e.g. in_range: pandera dispatches on it.)
        def bench_bounds(s):
            v = parse(s)
            inside = v.notna()
            if lo is not None:
                inside = inside & (v >= lo)
            if hi is not None:
                inside = inside & (v <= hi)
            return v.isna() | inside

        return bench_bounds

    columns = {}
    for c in spec.COLUMNS:
        ty = c["type"]
        parse = parser(ty)
        checks = []
        if ty == "int":
            checks.append(pa.Check(lambda s: s.str.fullmatch(spec.INT_REGEX), name="type_int"))
        elif ty == "bool":
            checks.append(pa.Check.isin(bools, name="type_bool"))
        elif parse is not None:
            checks.append(pa.Check(lambda s, p=parse: p(s).notna(), name=f"type_{ty}"))
        lo, hi = c.get("min"), c.get("max")
        if ty in ("date", "timestamp"):
            lo = pd.Timestamp(lo) if lo is not None else None
            hi = pd.Timestamp(hi) if hi is not None else None
        if lo is not None or hi is not None:
            checks.append(pa.Check(range_check(parse, lo, hi), name=f"range [{lo}, {hi}]"))
        if "allowed" in c:
            checks.append(pa.Check.isin(c["allowed"]))
        if "regex" in c:
            checks.append(pa.Check.str_matches(FULL_REGEX))
        columns[c["name"]] = pa.Column(str, nullable=c["nullable"], checks=checks)
    schema = pa.DataFrameSchema(columns, strict=True, ordered=True)

    started = time.monotonic()
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    rows = len(df)
    bad_rows = 0
    by_column: dict[str, int] = {}
    try:
        schema.validate(df, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        if fc["index"].isna().any():
            # A check that crashed or a schema-level failure: not a per-row result, so no count is honest.
            raise RuntimeError(f"pandera reported non-row failures:\n{fc[fc['index'].isna()].to_string()}")
        bad_rows = int(fc["index"].nunique())
        by_column = {str(k): int(v) for k, v in fc.groupby("column")["index"].nunique().items()}
    return {"rows": rows, "bad_rows": bad_rows, "bad_cells": sum(by_column.values()),
            "bad_cells_by_column": by_column, "seconds": time.monotonic() - started}


def run_pyarrow(path: str) -> dict:
    """pyarrow.csv.read_csv (use_threads=False), then pyarrow.compute kernels per rule."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    started = time.monotonic()
    table = pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(use_threads=False),
        convert_options=pcsv.ConvertOptions(
            column_types={n: pa.string() for n in spec.NAMES},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    bools = pa.array(spec.BOOL_TRUE + spec.BOOL_FALSE)
    row_bad = None
    by_column: dict[str, int] = {}
    for c in spec.COLUMNS:
        col = table.column(c["name"])
        present = pc.is_valid(col)
        bad = None if c["nullable"] else pc.invert(present)
        ty = c["type"]
        parsed = None
        lo = c.get("min")
        hi = c.get("max")
        if ty in ("int", "float"):
            ok = pc.match_substring_regex(col, spec.INT_REGEX if ty == "int" else spec.FLOAT_REGEX)
            bad = or_(bad, pc.and_kleene(present, pc.invert(ok)))
            valid_text = pc.if_else(ok, col, pa.scalar(None, pa.string()))
            parsed = pc.cast(valid_text, pa.int64() if ty == "int" else pa.float64())
        elif ty in ("date", "timestamp"):
            fmt = spec.DATE_FORMAT if ty == "date" else spec.TIMESTAMP_FORMAT
            parsed = pc.strptime(col, format=fmt, unit="s", error_is_null=True)
            bad = or_(bad, pc.and_kleene(present, pc.is_null(parsed)))
            if ty == "date":
                lo = dt.datetime.fromisoformat(lo) if lo else None
                hi = dt.datetime.fromisoformat(hi) if hi else None
        elif ty == "bool":
            bad = or_(bad, pc.and_kleene(present, pc.invert(pc.is_in(col, value_set=bools))))
        if parsed is not None:
            if lo is not None:
                bad = or_(bad, pc.fill_null(pc.less(parsed, pa.scalar(lo, parsed.type)), False))
            if hi is not None:
                bad = or_(bad, pc.fill_null(pc.greater(parsed, pa.scalar(hi, parsed.type)), False))
        if "allowed" in c:
            bad = or_(bad, pc.and_kleene(present, pc.invert(pc.is_in(col, value_set=pa.array(c["allowed"])))))
        if "regex" in c:
            bad = or_(bad, pc.and_kleene(present, pc.invert(pc.match_substring_regex(col, FULL_REGEX))))
        if bad is None:
            continue
        bad = pc.fill_null(bad, False)
        n = pc.sum(bad).as_py() or 0
        if n:
            by_column[c["name"]] = n
        row_bad = or_(row_bad, bad)
    bad_rows = (pc.sum(row_bad).as_py() or 0) if row_bad is not None else 0
    return {"rows": table.num_rows, "bad_rows": bad_rows, "bad_cells": sum(by_column.values()),
            "bad_cells_by_column": by_column, "seconds": time.monotonic() - started}


def or_(a, b):
    import pyarrow.compute as pc

    if a is None:
        return b
    if b is None:
        return a
    return pc.or_kleene(a, b)


def run_polars(path: str) -> dict:
    """polars.scan_csv (all columns as text) and one lazy query of expressions, streaming engine."""
    import polars as pl

    bools = spec.BOOL_TRUE + spec.BOOL_FALSE
    started = time.monotonic()
    exprs = []
    for c in spec.COLUMNS:
        col = pl.col(c["name"])
        present = col.is_not_null()
        parts = [] if c["nullable"] else [col.is_null()]
        ty = c["type"]
        lo = c.get("min")
        hi = c.get("max")
        parsed = None
        if ty == "int":
            parsed = col.str.to_integer(strict=False)
        elif ty == "float":
            parsed = col.cast(pl.Float64, strict=False)
        elif ty == "date":
            parsed = col.str.to_date(spec.DATE_FORMAT, strict=False)
            lo = pl.lit(lo).str.to_date(spec.DATE_FORMAT) if lo else None
            hi = pl.lit(hi).str.to_date(spec.DATE_FORMAT) if hi else None
        elif ty == "timestamp":
            parsed = col.str.to_datetime(spec.TIMESTAMP_FORMAT, strict=False)
        elif ty == "bool":
            parts.append(present & ~col.is_in(bools))
        if parsed is not None:
            parts.append(present & parsed.is_null())
            if lo is not None:
                parts.append((parsed < lo).fill_null(False))
            if hi is not None:
                parts.append((parsed > hi).fill_null(False))
        if "allowed" in c:
            parts.append(present & ~col.is_in(c["allowed"]))
        if "regex" in c:
            parts.append(present & ~col.str.contains(FULL_REGEX))
        if parts:
            exprs.append(pl.any_horizontal(parts).fill_null(False).alias(c["name"]))
    lf = pl.scan_csv(path, infer_schema=False, empty_string_is_null=True)
    flags = lf.select(exprs)
    out = flags.select(
        [pl.len().alias("__rows"), pl.any_horizontal(pl.all()).sum().alias("__bad_rows")]
        + [pl.col(e.meta.output_name()).sum() for e in exprs]
    ).collect(engine="streaming")
    row = out.row(0, named=True)
    by_column = {k: int(v) for k, v in row.items() if not k.startswith("__") and v}
    return {"rows": int(row["__rows"]), "bad_rows": int(row["__bad_rows"]),
            "bad_cells": sum(by_column.values()),
            "bad_cells_by_column": by_column, "seconds": time.monotonic() - started}


RUNNERS = {"pandera": run_pandera, "pyarrow": run_pyarrow, "polars": run_polars}


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in RUNNERS:
        print(__doc__, file=sys.stderr)
        return 2
    result = RUNNERS[sys.argv[1]](sys.argv[2])
    print(json.dumps({"tool": sys.argv[1], **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
