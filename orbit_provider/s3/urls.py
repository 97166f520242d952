"""`s3://bucket/key` URLs, accepted wherever a bucket and a key are (as the amazon provider
does): a key given as a URL names its bucket too."""

from __future__ import annotations

from urllib.parse import urlsplit

from orbit_provider.s3.config import validate_bucket_name
from orbit_provider.s3.errors import ConfigError

SCHEME = "s3://"


def is_s3_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key`` (the key may be empty: a bucket or a prefix)."""
    if not is_s3_url(url):
        raise ConfigError(f"{url!r} is not an s3://bucket/key URL")
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        # '?' and '#' are ordinary key characters in S3: keep them in the key
        rest = url[len(SCHEME) :]
        bucket, _, key = rest.partition("/")
    else:
        bucket, key = parts.netloc, parts.path.removeprefix("/")
    return validate_bucket_name(bucket), key


def bucket_and_key(bucket: str | None, key: str, field: str = "key") -> tuple[str | None, str]:
    """The bucket and key a caller meant: `key` as an ``s3://`` URL names its own bucket
    (then `bucket` must be None or the same); otherwise both are returned unchanged."""
    if not is_s3_url(key):
        return bucket, key
    url_bucket, url_key = parse_s3_url(key)
    if bucket is not None and bucket != url_bucket:
        raise ConfigError(
            f"{field}: {key!r} names bucket {url_bucket!r} but bucket is {bucket!r}: give the "
            "bucket once, in the URL or as the bucket argument"
        )
    return url_bucket, url_key
