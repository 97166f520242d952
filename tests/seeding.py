"""Create many objects cheaply before a test (setup only: what a test checks never goes
through here).

A botocore PutObject costs about 1.5 ms of client CPU, and through moto's in-process mock
several ms: thousands of keys made that way were most of some tests' time on the shared
2 cores. `put_in_moto` writes into moto's in-process backend directly (moto's documented way
to reach its internals); `put_over_http` sends plain-HTTP PUTs signed by botocore (orbit's
small-object path, a fraction of the CPU), 16 in flight, to a real server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from orbit_provider.s3.client import S3Client
from orbit_provider.s3.transfer.small_http import make_lean

Body = Callable[[str], bytes]


def _body_for(body: bytes | Body) -> Body:
    return body if callable(body) else (lambda _key: body)


def put_in_moto(bucket: str, keys: Iterable[str], body: bytes | Body = b"x") -> list[str]:
    """Objects `keys` in `bucket` of the active mock_aws (default account, us-east-1), each
    holding `body` (bytes, or a function of the key). Returns the keys."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    of = _body_for(body)
    names = list(keys)
    for key in names:
        backend.put_object(bucket, key, of(key))
    return names


def put_over_http(client: S3Client, keys: Iterable[str], body: bytes | Body = b"x") -> list[str]:
    """Objects `keys` in `client`'s bucket on a real server, each holding `body` (bytes, or a
    function of the key), over orbit's plain-HTTP PUT path. Returns the keys."""
    lean = make_lean(client)
    assert lean is not None, "the plain-HTTP path is not available for this client"
    of = _body_for(body)
    names = list(keys)
    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda key: lean.put(key, of(key), {}), names, chunksize=64))
    finally:
        lean.close()
    return names
