"""Dry-run plans (orbit_provider/s3/batch/plan.py) against moto: read-only, lazy, capped."""

from __future__ import annotations

import pytest

from orbit_provider.s3.batch.plan import check_copy_target, plan_batch, plan_copy
from orbit_provider.s3.errors import ConfigError, NotFound


@pytest.fixture
def objects(moto_client):
    for i in range(7):
        moto_client.upload_bytes(b"x" * (i + 1), f"p/{i}.bin")
    moto_client.upload_bytes(b"ia", "p/ia.bin", storage_class="STANDARD_IA")
    return moto_client


def test_plan_over_a_listing_counts_bytes_and_lists_the_first_keys(objects):
    listing = objects.iter_objects("p/")
    plan = plan_batch(objects, listing, "tag_objects", max_listed=3)
    assert (plan.count, plan.bytes, plan.missing) == (8, sum(range(1, 8)) + 2, 0)
    data = plan.to_dict()
    assert data["first_keys"] == ["p/0.bin", "p/1.bin", "p/2.bin"] and data["listed"] == 3
    assert "mapping" not in data
    lines = plan.describe()
    assert lines[0] == "tag_objects: 8 key(s), 30 bytes" and lines[-1] == "  ... and 5 more"


def test_plan_heads_key_strings_and_reports_missing_ones(objects):
    plan = plan_batch(objects, ["p/3.bin", "p/none", "p/ia.bin"], "delete", max_listed=10)
    assert (plan.count, plan.bytes, plan.missing, plan.missing_keys) == (3, 6, 1, ["p/none"])
    assert "(missing)" in plan.describe()[2]


def test_plan_counts_keys_already_in_the_target_storage_class(objects):
    listing = objects.iter_objects("p/")
    from_listing = plan_batch(objects, listing, "sc", storage_class="standard_ia")
    from_heads = plan_batch(objects, ["p/ia.bin", "p/0.bin"], "sc", storage_class="STANDARD_IA")
    assert from_listing.already_done == 1 and from_heads.already_done == 1
    with pytest.raises(ConfigError, match="COLD"):
        plan_batch(objects, [], "sc", storage_class="COLD")


def test_plan_copy_maps_sources_to_destinations_like_batch_copy(objects):
    plan = plan_copy(objects, objects.iter_objects("p/"), "q/", strip_prefix="p/", max_listed=2)
    assert plan.to_dict()["mapping"] == [["p/0.bin", "q/0.bin"], ["p/1.bin", "q/1.bin"]]
    assert plan.describe()[1] == f"  p/0.bin -> s3://{objects.bucket}/q/0.bin"
    flat = plan_copy(objects, ["p/3.bin"], "flat/", dest_bucket="other-bucket")
    assert flat.to_dict()["mapping"] == [["p/3.bin", "flat/3.bin"]]
    assert flat.to_dict()["dest_bucket"] == "other-bucket"
    with pytest.raises(ConfigError, match="onto itself"):
        plan_copy(objects, ["p/3.bin"], "p/", strip_prefix="p/")
    with pytest.raises(ConfigError, match="both map"):
        plan_copy(objects, ["p/3.bin", "x/3.bin"], "q/")
    assert objects.list_objects("q/").objects == []  # read-only


def test_plan_of_a_missing_bucket_is_an_error_not_missing_keys(make_moto_client):
    client = make_moto_client(bucket="no-such-bucket")
    with pytest.raises(NotFound, match="no-such-bucket"):
        plan_batch(client, ["a"], "delete")


def test_check_copy_target():
    check_copy_target("b", "q/", strip_prefix="p/", prefix="p/sub/")
    check_copy_target("b", "p/", dest_bucket="other", strip_prefix="p/")
    with pytest.raises(ConfigError, match="onto itself"):
        check_copy_target("b", "p/", strip_prefix="p/")
    with pytest.raises(ConfigError, match="strip_prefix"):
        check_copy_target("b", "q/", strip_prefix="x/", prefix="p/")
    with pytest.raises(ConfigError, match="dest_prefix"):
        check_copy_target("b", None)
