"""ArchivePrefixRestored: every object under a prefix readable, checked from a listing, on
moto's server (archive classes, RestoreObject; it ignores OptionalObjectAttributes, so each
archived object is HEADed) and with a listing that carries RestoreStatus, as AWS answers."""

from __future__ import annotations

import datetime

import pytest

from orbit_provider.s3.conditions import ArchivePrefixRestored, Condition
from orbit_provider.s3.errors import ArchivedObject, ConfigError
from tests.s3.batch.faults import Faults


@pytest.fixture
def cold(moto_server_client):
    client = moto_server_client
    for i in range(3):
        client.upload_bytes(b"x", f"cold/{i}", storage_class="GLACIER")
    client.upload_bytes(b"x", "cold/warm")
    return client


def test_unrequested_archived_objects_keep_it_unmet_fail_or_are_left_out(cold):
    cold.restore_archived(["cold/0", "cold/1"])
    state = ArchivePrefixRestored(prefix="cold/").evaluate(cold)
    assert not state.met
    assert state.details["counts"] == {
        "restored": 2, "not_archived": 1, "in_progress": 0, "archived": 1
    }
    assert state.details["archived"] == ["cold/2"]
    assert "1 archived with no restore requested" in state.reason
    with pytest.raises(ArchivedObject, match="cold/2"):
        ArchivePrefixRestored(prefix="cold/", fail_if_not_requested=True).evaluate(cold)
    left_out = ArchivePrefixRestored(prefix="cold/", ignore_not_requested=True).evaluate(cold)
    assert left_out.met and "1 not requested, left out" in left_out.reason
    cold.restore_archived(["cold/2"])
    done = ArchivePrefixRestored(prefix="cold/", fail_if_not_requested=True).evaluate(cold)
    assert done.met and done.details["readable"] == 4
    assert set(done.details["expires"]) == {"cold/0", "cold/1", "cold/2"}


def test_a_listing_with_restore_status_needs_no_head(cold):
    """AWS answers OptionalObjectAttributes=RestoreStatus in the listing itself."""
    expiry = datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)

    def add_status(http_response, parsed, model, **_):
        for item in parsed.get("Contents", []):
            if item["Key"] == "cold/0":
                item["RestoreStatus"] = {"IsRestoreInProgress": True}
            elif item["Key"] != "cold/warm":
                item["RestoreStatus"] = {"IsRestoreInProgress": False,
                                         "RestoreExpiryDate": expiry}  # fmt: skip

    cold.s3.meta.events.register("after-call.s3.ListObjectsV2", add_status)
    faults = Faults(cold.s3)
    state = ArchivePrefixRestored(prefix="cold/").evaluate(cold)
    assert not state.met and state.details["in_progress"] == ["cold/0"]
    assert state.details["expires"] == {"cold/1": expiry.isoformat(), "cold/2": expiry.isoformat()}
    assert faults.count("HeadObject") == 0 and faults.count("ListObjectsV2") == 1


def test_round_trips_and_checks_its_fields():
    c = ArchivePrefixRestored(prefix="p/", fail_if_not_requested=True)
    assert Condition.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="choose one"):
        ArchivePrefixRestored(prefix="p/", fail_if_not_requested=True, ignore_not_requested=True)
    with pytest.raises(ConfigError, match="prefix"):
        ArchivePrefixRestored(prefix=None)
