"""s3:// URLs wherever a bucket and a key are."""

import pytest

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.urls import bucket_and_key, is_s3_url, parse_s3_url


def test_parse_keeps_every_key_character():
    assert parse_s3_url("s3://my-bucket/a/b c.csv") == ("my-bucket", "a/b c.csv")
    assert parse_s3_url("s3://my-bucket/q?x=1#frag") == ("my-bucket", "q?x=1#frag")
    assert parse_s3_url("s3://my-bucket") == ("my-bucket", "")
    assert parse_s3_url("s3://Legacy_Bucket/k") == ("Legacy_Bucket", "k")


def test_bad_urls_are_refused():
    with pytest.raises(ConfigError, match="not an s3://"):
        parse_s3_url("https://x/y")
    with pytest.raises(ConfigError, match="bucket"):
        parse_s3_url("s3:///key")
    assert not is_s3_url(None) and is_s3_url("s3://b/k")


def test_bucket_and_key_takes_the_url_bucket_once():
    assert bucket_and_key(None, "s3://bkt/k") == ("bkt", "k")
    assert bucket_and_key("bkt", "s3://bkt/k") == ("bkt", "k")
    assert bucket_and_key("bkt", "plain/key") == ("bkt", "plain/key")
    with pytest.raises(ConfigError, match="give the bucket once"):
        bucket_and_key("other", "s3://bkt/k", "source_key")
