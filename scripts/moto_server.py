"""moto's server (`moto_server`), with one fix to its IAM enforcement: a SigV4 signature is checked
over the request body as it was sent, as AWS checks it.

moto 5.2.5 reads a form-encoded body (the query protocol: SNS, IAM, STS, ...) only through werkzeug's
parsed form, so when it checks a signature it signs a body rebuilt from the parsed fields with Python's
encoding, where a space is `+`. The Rust SDK encodes a space as `%20` (both are valid form encoding), so
every signed query-protocol request with a space in a value (an SNS message) fails with
SignatureDoesNotMatch once IAM is enforced, though AWS accepts it. Reading the raw body first (werkzeug
caches it and still parses the form from it) makes moto sign the bytes that were sent; nothing else
changes. Used by the tests (tests/src/lib.rs) and scripts/test.sh: `.venv/bin/python
scripts/moto_server.py -H 127.0.0.1 -p 5000`, the same arguments as `moto_server`.
"""

import sys

from moto.core import responses
from moto.server import main

_setup_class = responses.BaseResponse.setup_class


def _setup_class_with_raw_body(self, request, *args, **kwargs):
    if hasattr(request, "get_data"):
        request.get_data()  # cache the raw body before the form parser consumes the stream
    return _setup_class(self, request, *args, **kwargs)


responses.BaseResponse.setup_class = _setup_class_with_raw_body

if __name__ == "__main__":
    sys.exit(main())
