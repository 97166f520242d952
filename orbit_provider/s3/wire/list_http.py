"""ListObjectsV2 pages over plain HTTP: signed by botocore (a presigned URL), parsed with
ElementTree.

botocore spends about 80 µs of client CPU on every key of a listing (its shape walk of the
XML and a dateutil parse of each LastModified); this path about 20, so listing a prefix of
a million keys costs seconds of CPU instead of over a minute. Only where requests may bypass
botocore (`use_plain_http`); failures look like botocore's (client_error / network_error),
so classification, retries, the breaker and the throttle are the same (S3Session.retry).
"""

from __future__ import annotations

import datetime
import functools
import http.client
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote_plus

from orbit_provider.s3.models import ListPage, ObjectSummary, to_datetime
from orbit_provider.s3.wire.checksums import plain_etag
from orbit_provider.s3.wire.plain_http import ConnectionPool, client_error, network_error, split_url
from orbit_provider.s3.wire.ratelimit import take_request_token

URL_LIFETIME = 900  # seconds: a page's URL is used at once


@functools.lru_cache(maxsize=4096)
def _when(text: str | None) -> Any:
    """LastModified as the pendulum DateTime botocore's path gives (fromisoformat is fast).
    Cached: keys written together share their timestamps, and building a pendulum DateTime
    (20 µs) was most of a page's parsing; the DateTimes are immutable, so sharing is safe."""
    if not text:
        return None
    try:
        return to_datetime(datetime.datetime.fromisoformat(text))
    except ValueError:
        return to_datetime(text)


def parse_page(body: bytes) -> ListPage:
    """A ListObjectsV2 answer as a ListPage; keys and prefixes are URL-decoded when the
    answer says they were encoded (EncodingType=url, as botocore asks and decodes)."""
    root = ET.fromstring(body)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    decode = unquote_plus if root.findtext(f"{ns}EncodingType") == "url" else (lambda v: v)
    objects = [
        ObjectSummary(
            key=decode(item.findtext(f"{ns}Key") or ""),
            size=int(item.findtext(f"{ns}Size") or 0),
            last_modified=_when(item.findtext(f"{ns}LastModified")),
            etag=plain_etag(item.findtext(f"{ns}ETag")),
            storage_class=item.findtext(f"{ns}StorageClass") or "STANDARD",
        )
        for item in root.iterfind(f"{ns}Contents")
    ]
    prefixes = [
        decode(p.findtext(f"{ns}Prefix") or "") for p in root.iterfind(f"{ns}CommonPrefixes")
    ]
    return ListPage(
        objects=objects,
        is_truncated=root.findtext(f"{ns}IsTruncated") == "true",
        continuation_token=root.findtext(f"{ns}NextContinuationToken") or None,
        common_prefixes=prefixes,
    )


class LeanLister:
    """ListObjectsV2 pages of one session's bucket over pooled `http.client` connections
    (`session`: the S3Session whose bucket, boto3 client and retry path it uses; not typed
    here, as the session imports this module)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._pool = ConnectionPool(session.config.timeout_seconds)

    def page(self, params: dict[str, Any]) -> ListPage:
        """One page for botocore's ListObjectsV2 `params` (Prefix, MaxKeys, ...; not Bucket),
        under the session's retry policy."""
        session = self.session
        params = {"Bucket": session.bucket, **params, "EncodingType": "url"}
        where = params.get("Prefix", "")

        def fetch() -> ListPage:
            take_request_token(session.s3)  # a batch's or tree's request budget
            url = session.s3.generate_presigned_url(
                "list_objects_v2", Params=params, ExpiresIn=URL_LIFETIME
            )
            scheme, host, port, target = split_url(url)
            conn = self._pool.get(scheme, host, port)
            try:
                conn.request("GET", target)
                resp = conn.getresponse()
                body = resp.read()
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                raise network_error(exc, "listing", session.bucket, where) from exc
            if resp.will_close:
                conn.close()
            else:
                self._pool.put(conn)
            if resp.status >= 300:
                raise client_error(resp.status, body, "ListObjectsV2")
            return parse_page(body)

        return session.retry(fetch, key=where or None)

    def close(self) -> None:
        self._pool.close()
