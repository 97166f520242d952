"""S3's limits on tags and user metadata, checked before any request is sent."""

from __future__ import annotations

from urllib.parse import quote

from orbit_provider.s3.errors import ConfigError

MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
MAX_METADATA_BYTES = 2048


def validate_tags(tags: dict[str, str], field_name: str = "tags") -> dict[str, str]:
    """At most 10 tags, keys 1-128 and values 0-256 characters, all strings."""
    if not isinstance(tags, dict):
        raise ConfigError(f"{field_name}: expected a dict of tag key -> value")
    if len(tags) > MAX_TAGS:
        raise ConfigError(f"{field_name}: {len(tags)} tags given; S3 allows at most {MAX_TAGS}")
    for k, v in tags.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise ConfigError(f"{field_name}: tag keys and values must be strings ({k!r})")
        if not 1 <= len(k) <= MAX_TAG_KEY:
            raise ConfigError(
                f"{field_name}: tag key {k[:40]!r} must be 1 to {MAX_TAG_KEY} characters"
            )
        if k.lower().startswith("aws:"):
            raise ConfigError(f"{field_name}: tag key {k!r} uses the reserved 'aws:' prefix")
        if len(v) > MAX_TAG_VALUE:
            raise ConfigError(
                f"{field_name}: value of tag {k!r} is {len(v)} characters; "
                f"S3 allows at most {MAX_TAG_VALUE}"
            )
    return tags


def validate_metadata(metadata: dict[str, str], field_name: str = "metadata") -> dict[str, str]:
    """User metadata: string keys and values, at most 2 KiB in all (keys + values, UTF-8)."""
    if not isinstance(metadata, dict):
        raise ConfigError(f"{field_name}: expected a dict of name -> value")
    total = 0
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str) or not k:
            raise ConfigError(f"{field_name}: names and values must be strings ({k!r})")
        if not k.isascii() or any(c.isspace() for c in k):
            raise ConfigError(f"{field_name}: name {k!r} must be ASCII without spaces")
        total += len(k.encode()) + len(v.encode())
    if total > MAX_METADATA_BYTES:
        raise ConfigError(
            f"{field_name}: {total} bytes of user metadata; S3 allows at most "
            f"{MAX_METADATA_BYTES} (2 KiB)"
        )
    return metadata


def encode_tags(tags: dict[str, str]) -> str:
    """The URL-encoded form of the Tagging header."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in tags.items())


def tag_set(tags: dict[str, str]) -> list[dict[str, str]]:
    """The TagSet form of PutObjectTagging."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]
