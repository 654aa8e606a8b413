"""Regenerate the bundled sample datasets (deterministic): python3 samples/generate.py

sales.csv is valid against contracts/sales.yaml; sales-invalid.csv has the same shape and a handful of
realistic problems, one per line marked below. Both are embedded in the `greenpipe` binary (greenpipe demo).
sales.jsonl.gz holds the rows of sales.csv as gzip'd JSON Lines, valid against contracts/sales.dqdl (which,
being a plain DQDL ruleset, takes the format from the file extension).
"""

import csv
import gzip
import json
import datetime as dt
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = ["order_id", "customer_id", "country", "amount", "quantity", "order_ts", "order_date", "is_gift"]
COUNTRIES = ["US", "CA", "GB", "FR", "DE", "NO", "JP"]
START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)


def rows(rng, n, first_id):
    for i in range(n):
        ts = START + dt.timedelta(seconds=rng.randrange(0, 57 * 24 * 3600))
        yield [
            str(first_id + i),
            f"C{rng.randrange(0, 1_000_000):06d}",
            rng.choice(COUNTRIES),
            f"{rng.uniform(3.5, 1500):.2f}",
            str(rng.randint(1, 12)),
            ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ts.strftime("%Y-%m-%d"),
            "true" if rng.random() < 0.15 else "false",
        ]


def write(name, records):
    with open(HERE / name, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(records)


def write_jsonl_gz(name, records):
    """The same records as typed JSON objects, gzip'd reproducibly (no name or time in the header)."""
    lines = []
    for r in records:
        obj = dict(zip(HEADER, r))
        obj.update(order_id=int(r[0]), amount=float(r[3]), quantity=int(r[4]), is_gift=r[7] == "true")
        lines.append(json.dumps(obj, separators=(",", ":")) + "\n")
    with open(HERE / name, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write("".join(lines).encode())


def main():
    valid = list(rows(random.Random(42), 200, 1))
    write("sales.csv", valid)
    write_jsonl_gz("sales.jsonl.gz", valid)

    bad = list(rows(random.Random(7), 40, 1001))
    bad[4][3] = "-19.99"  # negative amount
    bad[9][2] = "XX"  # unknown country
    bad[14][5] = "2026-13-01T25:00:00Z"  # impossible timestamp
    bad[19][0] = ""  # missing order_id
    bad[24][0] = bad[23][0]  # duplicate order_id
    bad[29] = bad[29][:-1]  # ragged row: the last field is missing
    write("sales-invalid.csv", bad)


if __name__ == "__main__":
    main()
