"""The Python peer of one greenpipe Lambda function in the cold-start benchmark (bench/cold_start.py).

    python -X frozen_modules=on bench/cold_start_peer.py <function>

It does what a Python Lambda function written with boto3 does before its first event: import boto3, build
at module level the same clients the Rust function builds in its `Deps` constructor, then ask the Lambda
Runtime API for the next event (`GET /2018-06-01/runtime/invocation/next` at $AWS_LAMBDA_RUNTIME_API), as
the Python runtime's bootstrap does once the handler module is imported. The benchmark measures spawn ->
that request and the process's RSS then; the request is never answered and the benchmark kills the
process. The real Python runtime does a little more first (it imports its own bootstrap and sets up
logging), so this is a lower bound for Python.

Nothing here talks to AWS: boto3 builds clients without network access, and the benchmark points
AWS_ENDPOINT_URL at a closed loopback port in case anything tried.
"""

import sys

# Service names of the clients each function builds at cold start (boto3 spelling), from the `Deps`
# constructors (`Deps::from_env` / `Deps::new`) in shared/src/stages/<stage>/handler.rs. Keep in step with
# them: a peer with fewer or more clients than its function is not a peer.
#   validate-dataset   S3 + Step Functions                     (validate_dataset)
#   register-catalog   S3 + Glue                               (register_catalog)
#   write-features     S3 + SageMaker + Feature Store runtime  (write_features)
#   plan-training,     S3 + SageMaker (one shared Deps)        (plan)
#   plan-transform
#   report-run         S3 only                                 (report_run)
#   cleanup-idle       S3 + SageMaker + CloudWatch + Logs      (cleanup_idle)
# bench/cold_start.py imports this table (without importing boto3) for its report.
CLIENTS = {
    "validate-dataset": ["s3", "stepfunctions"],
    "register-catalog": ["s3", "glue"],
    "write-features": ["s3", "sagemaker", "sagemaker-featurestore-runtime"],
    "plan-training": ["s3", "sagemaker"],
    "plan-transform": ["s3", "sagemaker"],
    "report-run": ["s3"],
    "cleanup-idle": ["s3", "sagemaker", "cloudwatch", "logs"],
}


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in CLIENTS:
        sys.exit(f"usage: cold_start_peer.py {{{','.join(CLIENTS)}}}")
    function = sys.argv[1]

    # Module level in a real function: everything from here to the request is the cold start.
    import os
    import urllib.request

    import boto3
    from botocore.config import Config

    clients = {}
    for service in CLIENTS[function]:
        config = None
        if service == "sagemaker-featurestore-runtime":
            # As write-features configures its Feature Store client: no SDK retries (the writer retries
            # itself), 3 s connect and 10 s attempt timeouts.
            config = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=10)
        clients[service] = boto3.client(service, config=config)

    # The runtime's first call: blocks until an event arrives (here: until the benchmark kills us).
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next")


if __name__ == "__main__":
    main()
