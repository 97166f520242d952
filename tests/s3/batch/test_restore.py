"""Archive restores (moto's HTTP server: SeaweedFS has no RestoreObject)."""

from __future__ import annotations

import pendulum
import pytest

from orbit_provider.s3 import BatchConfig, RestoreStatus
from orbit_provider.s3.batch.restore import parse_restore, status_of
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.models import ObjectMetadata


def test_restore_then_status_then_storage_class_change(moto_server_client):
    client = moto_server_client
    client.upload_bytes(b"cold", "cold", storage_class="GLACIER")
    client.upload_bytes(b"deep", "deep", storage_class="DEEP_ARCHIVE")
    client.upload_bytes(b"warm", "warm")
    assert client.restore_status("cold") == RestoreStatus("archived", None, "GLACIER")
    assert client.restore_status("warm").state == "not_archived"

    result = client.restore_archived(
        ["cold", "deep", "warm"], days=3, tier="bulk", config=BatchConfig(retry_delay=0)
    )
    assert result.results["cold"].succeeded and result.results["deep"].succeeded
    assert result.results["warm"].status == "failed"
    assert "not in an archive storage class" in result.results["warm"].detail

    status = client.restore_status("cold")
    assert status.state == "restored" and status.readable
    assert status.expires is not None and status.expires > pendulum.now("UTC")

    again = client.restore_archived(["cold"], days=3)
    assert again.ok and again.already_done == 1

    # restored: the storage class can now be changed
    changed = client.batch_change_storage_class(["cold"], "STANDARD")
    assert changed.ok and client.get_metadata("cold").storage_class == "STANDARD"
    assert client.download_bytes("cold") == b"cold"


def test_restore_arguments_checked_before_any_request(moto_client):
    with pytest.raises(ConfigError, match="^tier:"):
        moto_client.restore_archived(["a"], tier="Instant")
    with pytest.raises(ConfigError, match="^days:"):
        moto_client.restore_archived(["a"], days=0)


def _head(storage_class, restore=None):
    return ObjectMetadata("k", 1, None, None, None, storage_class, None, restore=restore)


def test_restore_header_states():
    assert parse_restore(None) == (None, None)
    assert status_of(_head("GLACIER", 'ongoing-request="true"')).state == "in_progress"
    done = status_of(
        _head(
            "DEEP_ARCHIVE", 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"'
        )
    )
    assert done == RestoreStatus("restored", pendulum.datetime(2012, 12, 21), "DEEP_ARCHIVE")
    assert status_of(_head("GLACIER_IR")).state == "not_archived"
    assert status_of(_head("GLACIER")).state == "archived"
