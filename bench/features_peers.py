"""The Python peers of the Feature Store write benchmark: write every row of a CSV to a feature group.

    python features_peers.py boto3     DATA.csv --feature-group NAME --concurrency C
    python features_peers.py sagemaker DATA.csv --feature-group NAME --concurrency C

Called by bench/features.py, one process per run; see bench/README.md. Each peer is written the way its
documentation shows it, with in-flight PutRecord requests bounded by C:

- boto3: one `sagemaker-featurestore-runtime` client (max_pool_connections=C, standard retries) shared by a
  ThreadPoolExecutor of C workers, one `put_record` per row.
- sagemaker: the SageMaker Python SDK v2's `FeatureGroup.ingest(df, max_workers=C, max_processes=1)`, which
  splits the DataFrame into C slices, each written row by row by its own thread and client.

The endpoint and credentials come from the environment (AWS_ENDPOINT_URL, dummy keys; set by features.py).
Prints one JSON object on stdout: rows read, records written and failed, and the wall and CPU seconds of
the write phase alone (after imports, client set-up and reading the CSV), so the cost of starting the
interpreter can be told apart from the cost per record.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import time

REGION = "us-east-1"


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (the SDK's ingest forks a worker)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def client_config(concurrency: int):
    from botocore.config import Config

    return Config(region_name=REGION, max_pool_connections=concurrency, retries={"mode": "standard"})


def run_boto3(path: str, group: str, concurrency: int) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    client = boto3.session.Session(region_name=REGION).client(
        "sagemaker-featurestore-runtime", config=client_config(concurrency))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))

    def put(row: dict) -> bool:
        record = [{"FeatureName": k, "ValueAsString": v} for k, v in row.items() if v != ""]
        try:
            client.put_record(FeatureGroupName=group, Record=record)
            return True
        except Exception as e:  # noqa: BLE001 - a failed row is counted, as a user's loop would
            print(f"put_record failed: {e}", file=sys.stderr)
            return False

    cpu0, t0 = cpu_seconds(), time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        ok = sum(pool.map(put, rows))
    seconds, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    return {"rows": len(rows), "written": ok, "failed": len(rows) - ok, "write_seconds": seconds,
            "write_cpu_seconds": cpu}


def run_sagemaker(path: str, group: str, concurrency: int) -> dict:
    import boto3
    import pandas as pd
    from sagemaker.feature_store.feature_group import FeatureGroup, IngestionError
    from sagemaker.session import Session

    boto_session = boto3.session.Session(region_name=REGION)
    session = Session(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker", region_name=REGION),
        sagemaker_featurestore_runtime_client=boto_session.client(
            "sagemaker-featurestore-runtime", config=client_config(concurrency)),
        # An explicit SDK-defaults config: no config files read, and no telemetry request leaves the machine.
        sagemaker_config={"SchemaVersion": "1.0",
                          "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}},
    )
    df = pd.read_csv(path)
    cpu0, t0 = cpu_seconds(), time.monotonic()
    failed = 0
    try:
        # ingest calls DescribeFeatureGroup, then writes; each of the C threads makes its own client from
        # the session client's config, with the endpoint from AWS_ENDPOINT_URL.
        FeatureGroup(name=group, sagemaker_session=session).ingest(
            data_frame=df, max_workers=concurrency, max_processes=1, wait=True)
    except IngestionError as e:
        failed = len(e.failed_rows)
        print(f"ingest: {failed} rows failed", file=sys.stderr)
    seconds, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    return {"rows": len(df), "written": len(df) - failed, "failed": failed, "write_seconds": seconds,
            "write_cpu_seconds": cpu}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tool", choices=["boto3", "sagemaker"])
    ap.add_argument("data")
    ap.add_argument("--feature-group", required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    args = ap.parse_args()
    run = run_boto3 if args.tool == "boto3" else run_sagemaker
    result = run(args.data, args.feature_group, args.concurrency)
    print(json.dumps(result))
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
