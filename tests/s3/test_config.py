"""S3Config, Credentials, StorageClass and ServerSideEncryption: every validation rule."""

from __future__ import annotations

import dataclasses

import pytest

from orbit_provider.s3 import Credentials, S3Client, S3Config, ServerSideEncryption, StorageClass
from orbit_provider.s3.config import (
    GIB,
    MIB,
    SseAlgorithm,
    validate_bucket_name,
    validate_endpoint,
    validate_key,
)
from orbit_provider.s3.errors import ConfigError, S3Error


def make(**overrides) -> S3Config:
    fields = {"bucket": "my-bucket"}
    fields.update(overrides)
    return S3Config(**fields)


def test_defaults_follow_the_guide():
    cfg = S3Config(bucket="my-bucket")
    assert cfg.region is None
    assert cfg.endpoint is None
    assert cfg.credentials is None
    assert cfg.profile is None
    assert cfg.storage_class is StorageClass.STANDARD
    assert cfg.server_side_encryption is None
    assert cfg.chunk_size is None  # none set: chosen per transfer (upload_plan.py) ...
    assert cfg.effective_chunk_size == 5 * MIB  # ... from the guide's 5 MiB
    assert cfg.parallel_operations == 32  # a cap: uploads tune below it (transfer/tuner.py)
    assert cfg.timeout_seconds == 300
    assert cfg.max_retries == 3
    assert cfg.verify_checksums is True
    assert cfg.force_path_style is False
    assert cfg.max_bandwidth is None
    assert cfg.multipart_copy_threshold == 5 * GIB
    assert cfg.direct_io is True


def test_config_error_is_an_s3_error_and_a_value_error():
    with pytest.raises(ConfigError) as info:
        make(bucket="x")
    assert isinstance(info.value, S3Error)
    assert isinstance(info.value, ValueError)
    assert info.value.retryable is False


# -- bucket names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "abc",
        "a" * 63,
        "my-bucket",
        "my.bucket.name",
        "bucket-2024",
        "0bucket9",
        "xn-bucket",  # only the exact 'xn--' prefix is reserved
        "my-s3alias-bucket",  # the suffix rule applies only at the end
    ],
)
def test_valid_bucket_names(name):
    assert validate_bucket_name(name) == name
    assert make(bucket=name).bucket == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "required"),
        ("ab", "3 to 63 characters"),
        ("a" * 64, "3 to 63 characters"),
        ("MyBucket", "lowercase"),
        ("my_bucket", "lowercase"),
        ("my bucket", "lowercase"),
        ("-bucket", "begin and end with a letter or digit"),
        ("bucket-", "begin and end with a letter or digit"),
        (".bucket", "begin and end with a letter or digit"),
        ("bucket.", "begin and end with a letter or digit"),
        ("my..bucket", "'..'"),
        ("my.-bucket", "'.-'"),
        ("my-.bucket", "'-.'"),
        ("192.168.5.4", "IP address"),
        ("10.0.0.1", "IP address"),
        ("xn--bucket", "'xn--'"),
        ("sthree-bucket", "'sthree-'"),
        ("amzn-s3-demo-bucket", "'amzn-s3-demo-'"),
        ("bucket-s3alias", "'-s3alias'"),
        ("bucket--ol-s3", "'--ol-s3'"),
        ("bucket.mrap", "'.mrap'"),
    ],
)
def test_invalid_new_bucket_names_name_the_field_and_rule(name, rule):
    with pytest.raises(ConfigError) as info:
        validate_bucket_name(name, new=True)
    message = str(info.value)
    assert message.startswith("bucket:")
    assert rule in message


@pytest.mark.parametrize("name", ["MyBucket", "my_bucket", "a" * 255, "my..bucket", "xn--b"])
def test_existing_legacy_bucket_names_are_accepted(name):
    """S3 still serves legacy (us-east-1) names: only a new bucket needs today's rules."""
    assert validate_bucket_name(name) == name
    assert make(bucket=name).bucket == name


@pytest.mark.parametrize("name", ["", "ab", "a" * 256, "my bucket", "a/b", "b!", "bücket"])
def test_names_s3_refuses_in_any_request(name):
    with pytest.raises(ConfigError, match="^bucket: "):
        make(bucket=name)


def test_bucket_must_be_a_string():
    with pytest.raises(ConfigError, match="bucket: a bucket name is required"):
        make(bucket=None)


# -- sizes, counts, timeouts --------------------------------------------------------------


@pytest.mark.parametrize("size", [5 * MIB, 8 * MIB, 5 * GIB])
def test_chunk_size_bounds_accepted(size):
    assert make(chunk_size=size).chunk_size == size


@pytest.mark.parametrize("size", [0, 5 * MIB - 1, 5 * GIB + 1, -1])
def test_chunk_size_out_of_range(size):
    with pytest.raises(ConfigError, match=r"^chunk_size: .*between 5 MiB .* and 5 GiB"):
        make(chunk_size=size)


@pytest.mark.parametrize("value", [5.5 * MIB, "5242880", True])
def test_chunk_size_must_be_an_integer(value):
    with pytest.raises(ConfigError, match=r"^chunk_size: .*must be an integer"):
        make(chunk_size=value)


@pytest.mark.parametrize("value", [0, -1])
def test_parallel_operations_must_be_positive(value):
    with pytest.raises(ConfigError, match=r"^parallel_operations: .*positive"):
        make(parallel_operations=value)


def test_parallel_operations_must_be_an_integer():
    with pytest.raises(ConfigError, match=r"^parallel_operations: .*integer"):
        make(parallel_operations=2.5)
    assert make(parallel_operations=1).parallel_operations == 1


@pytest.mark.parametrize("value", [0, -5, "30", True, None])
def test_timeout_must_be_positive_number(value):
    with pytest.raises(ConfigError, match=r"^timeout_seconds: .*positive"):
        make(timeout_seconds=value)


@pytest.mark.parametrize("value", ["false", 0, None])
def test_direct_io_must_be_a_boolean(value):
    with pytest.raises(ConfigError, match=r"^direct_io: .* must be True or False"):
        make(direct_io=value)
    assert make(direct_io=False).direct_io is False


def test_timeout_accepts_floats():
    assert make(timeout_seconds=0.5).timeout_seconds == 0.5


def test_max_retries_non_negative():
    assert make(max_retries=0).max_retries == 0
    with pytest.raises(ConfigError, match=r"^max_retries: -1 must not be negative"):
        make(max_retries=-1)
    with pytest.raises(ConfigError, match=r"^max_retries: .*integer"):
        make(max_retries=1.0)


def test_max_bandwidth():
    assert make(max_bandwidth=1).max_bandwidth == 1
    with pytest.raises(ConfigError, match=r"^max_bandwidth: 0 must be a positive number"):
        make(max_bandwidth=0)
    with pytest.raises(ConfigError, match=r"^max_bandwidth: .*integer"):
        make(max_bandwidth=1.5)


def test_multipart_copy_threshold_bounds():
    assert make(multipart_copy_threshold=5 * MIB).multipart_copy_threshold == 5 * MIB
    with pytest.raises(ConfigError, match=r"^multipart_copy_threshold: .*5 MiB and 5 GiB"):
        make(multipart_copy_threshold=MIB)
    with pytest.raises(ConfigError, match=r"^multipart_copy_threshold: .*5 MiB and 5 GiB"):
        make(multipart_copy_threshold=5 * GIB + 1)


def test_region_must_be_non_empty():
    assert make(region="eu-west-1").region == "eu-west-1"
    with pytest.raises(ConfigError, match=r"^region: must be a non-empty string"):
        make(region="")


# -- endpoint -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8333",
        "https://s3.example.com",
        "https://nyc3.digitaloceanspaces.com/",
        "http://localhost:9000",
    ],
)
def test_valid_endpoints(url):
    assert make(endpoint=url).endpoint == url
    assert validate_endpoint(url) == url


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://s3.example.com", "http:// or https:// URL"),
        ("localhost:9000", "http:// or https:// URL"),
        ("s3.example.com", "http:// or https:// URL"),
        ("http://", "http:// or https:// URL with a host"),
        ("", "http:// or https:// URL"),
        ("http://127.0.0.1:99999", "invalid port"),
        ("http://127.0.0.1:abc", "invalid port"),
    ],
)
def test_invalid_endpoints(url, rule):
    with pytest.raises(ConfigError) as info:
        make(endpoint=url)
    assert str(info.value).startswith("endpoint:")
    assert rule in str(info.value)


# -- storage class ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STANDARD", StorageClass.STANDARD),
        ("standard", StorageClass.STANDARD),
        ("STANDARD_IA", StorageClass.STANDARD_IA),
        ("standard-ia", StorageClass.STANDARD_IA),
        ("OneZone_IA", StorageClass.ONEZONE_IA),
        ("INTELLIGENT_TIERING", StorageClass.INTELLIGENT_TIERING),
        ("GLACIER_IR", StorageClass.GLACIER_IR),
        ("GLACIER", StorageClass.GLACIER),
        ("GLACIER_FLEXIBLE_RETRIEVAL", StorageClass.GLACIER),
        ("glacier_flexible_retrieval", StorageClass.GLACIER),
        (" Glacier-Flexible-Retrieval ", StorageClass.GLACIER),
        ("GLACIER_INSTANT_RETRIEVAL", StorageClass.GLACIER_IR),
        ("DEEP_ARCHIVE", StorageClass.DEEP_ARCHIVE),
        ("deep_archive", StorageClass.DEEP_ARCHIVE),
        (StorageClass.ONEZONE_IA, StorageClass.ONEZONE_IA),
    ],
)
def test_storage_class_parse(text, expected):
    assert StorageClass.parse(text) is expected
    assert make(storage_class=text).storage_class is expected


def test_storage_class_values_are_aws_strings():
    assert StorageClass.GLACIER.value == "GLACIER"
    assert str(StorageClass.DEEP_ARCHIVE) == "DEEP_ARCHIVE"
    assert StorageClass.GLACIER.is_archive and StorageClass.DEEP_ARCHIVE.is_archive
    assert not StorageClass.GLACIER_IR.is_archive
    assert not StorageClass.STANDARD.is_archive


@pytest.mark.parametrize("value", ["FROZEN", "", "GLACIER_SLOW"])
def test_unknown_storage_class(value):
    with pytest.raises(ConfigError, match=r"^storage_class: unknown storage class"):
        make(storage_class=value)


def test_storage_class_must_be_a_string():
    with pytest.raises(ConfigError, match=r"^storage_class: expected a string"):
        StorageClass.parse(3)


# -- server-side encryption ---------------------------------------------------------------


def test_sse_parse():
    assert ServerSideEncryption.parse(None) is None
    aes = ServerSideEncryption.parse("AES256")
    assert aes == ServerSideEncryption.aes256()
    assert aes.algorithm is SseAlgorithm.AES256 and aes.kms_key_id is None
    assert ServerSideEncryption.parse("aes256") == aes
    kms = ServerSideEncryption.parse("aws:kms")
    assert kms.algorithm is SseAlgorithm.KMS and kms.kms_key_id is None
    assert ServerSideEncryption.parse("AWS:KMS") == kms
    keyed = ServerSideEncryption.parse("aws:kms:arn:aws:kms:us-east-1:123456789012:key/abcd")
    assert keyed.algorithm is SseAlgorithm.KMS
    assert keyed.kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/abcd"
    assert ServerSideEncryption.parse(keyed) is keyed


def test_sse_request_args():
    assert ServerSideEncryption.aes256().request_args() == {"ServerSideEncryption": "AES256"}
    assert ServerSideEncryption.kms().request_args() == {"ServerSideEncryption": "aws:kms"}
    assert ServerSideEncryption.kms("key-1").request_args() == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "key-1",
    }


def test_sse_in_config():
    assert make(server_side_encryption="AES256").server_side_encryption == (
        ServerSideEncryption.aes256()
    )
    cfg = make(server_side_encryption="aws:kms:my-key")
    assert cfg.server_side_encryption == ServerSideEncryption.kms("my-key")


@pytest.mark.parametrize("value", ["DES", "aws:kmsx", "sse-c"])
def test_sse_unknown_value(value):
    with pytest.raises(ConfigError, match=r"^server_side_encryption: unknown value"):
        make(server_side_encryption=value)


def test_sse_rules():
    with pytest.raises(ConfigError, match=r"^server_side_encryption: unknown algorithm"):
        ServerSideEncryption("ROT13")
    with pytest.raises(ConfigError, match=r"^server_side_encryption: kms_key_id .*aws:kms"):
        ServerSideEncryption(SseAlgorithm.AES256, "key")
    assert ServerSideEncryption("aws:kms", "k").algorithm is SseAlgorithm.KMS


# -- credentials: never shown ------------------------------------------------------------

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token"


def test_credentials_repr_hides_secret_and_token():
    creds = Credentials("AKIDEXAMPLE", SECRET, TOKEN)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}"):
        assert SECRET not in text
        assert TOKEN not in text
        assert "AKIDEXAMPLE" in text
        assert "***" in text


def test_config_repr_hides_credentials():
    cfg = make(credentials=Credentials("AKIDEXAMPLE", SECRET, TOKEN), endpoint="http://h:1")
    for text in (repr(cfg), str(cfg)):
        assert SECRET not in text
        assert TOKEN not in text
        assert "my-bucket" in text


def test_credentials_rules():
    with pytest.raises(ConfigError, match=r"^credentials.access_key_id: "):
        Credentials("", SECRET)
    with pytest.raises(ConfigError, match=r"^credentials.secret_access_key: "):
        Credentials("AKID", "")
    with pytest.raises(ConfigError, match=r"^credentials: must be a Credentials"):
        make(credentials=("AKID", SECRET))


def test_credential_errors_do_not_echo_the_secret():
    with pytest.raises(ConfigError) as info:
        Credentials("", SECRET)
    assert SECRET not in str(info.value)


# -- frozen, with_changes, keys ------------------------------------------------------------


def test_config_is_frozen():
    cfg = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.bucket = "other-bucket"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Credentials("AKID", SECRET).secret_access_key = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ServerSideEncryption.aes256().kms_key_id = "x"  # type: ignore[misc]


def test_with_changes_validates_again():
    cfg = make()
    changed = cfg.with_changes(chunk_size=8 * MIB, storage_class="standard_ia")
    assert changed.chunk_size == 8 * MIB
    assert changed.storage_class is StorageClass.STANDARD_IA
    assert cfg.chunk_size is None and changed.effective_chunk_size == 8 * MIB
    with pytest.raises(ConfigError, match="^parallel_operations:"):
        cfg.with_changes(parallel_operations=0)


def test_validate_key():
    assert validate_key("a/b/c.txt") == "a/b/c.txt"
    assert validate_key("é" * 512) == "é" * 512  # 1024 bytes in UTF-8
    with pytest.raises(ConfigError, match=r"^key: .*non-empty"):
        validate_key("")
    with pytest.raises(ConfigError, match=r"^src_key: .*non-empty"):
        validate_key(None, "src_key")
    with pytest.raises(ConfigError, match=r"^key: .*at most 1024 bytes"):
        validate_key("é" * 513)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("circuit_breaker_timeout", 0, "must be a positive number of seconds"),
        ("circuit_breaker_timeout", True, "must be a positive number of seconds"),
        ("circuit_breaker_timeout", "30", "must be a positive number of seconds"),
        ("circuit_breaker_open_cycles", 0, "must be at least 1"),
        ("circuit_breaker_open_cycles", 1.5, "must be an integer"),
    ],
)
def test_breaker_settings_are_validated(field, value, rule):
    with pytest.raises(ConfigError, match=rf"^{field}: .*{rule}"):
        make(**{field: value})


def test_breaker_settings_reach_the_clients_breaker():
    config = make(circuit_breaker_timeout=2.5, circuit_breaker_open_cycles=5)
    breaker = S3Client(config).circuit_breaker
    assert (breaker.timeout, breaker.max_open_cycles) == (2.5, 5)
    assert breaker.failure_rate == 0.5 and breaker.name == config.endpoint_scope


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"endpoint": "http://127.0.0.1:9000"}, "AWS's own endpoint"),
        ({"force_path_style": True}, "virtual-hosted addressing"),
        ({"bucket": "with.dots"}, "has dots"),
        ({"use_accelerate_endpoint": "yes"}, "must be True or False"),
    ],
)
def test_transfer_acceleration_is_refused_where_it_cannot_work(overrides, rule):
    fields = {"use_accelerate_endpoint": True, **overrides}
    with pytest.raises(ConfigError, match=rf"^use_accelerate_endpoint: .*{rule}"):
        make(**fields)
    assert make(use_accelerate_endpoint=True).use_accelerate_endpoint is True


def test_upload_checksum_settings_default_and_normalise():
    cfg = make()
    assert (cfg.checksum_algorithm, cfg.checksum_type) == ("CRC32", None)
    assert cfg.effective_checksum_type == "FULL_OBJECT"  # a CRC: the whole file's
    cfg = make(checksum_algorithm="crc32c", checksum_type="composite")
    assert (cfg.checksum_algorithm, cfg.effective_checksum_type) == ("CRC32C", "COMPOSITE")
    assert make(checksum_algorithm="CRC64NVME").effective_checksum_type == "FULL_OBJECT"
    assert make(checksum_algorithm="sha256").effective_checksum_type == "COMPOSITE"
    assert make(checksum_algorithm="SHA1").effective_checksum_type == "COMPOSITE"
    assert make(checksum_type="full-object").checksum_type == "FULL_OBJECT"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"checksum_algorithm": "MD5"}, r"^checksum_algorithm: 'MD5' is not one uploads"),
        ({"checksum_algorithm": "CRC16"}, r"^checksum_algorithm: 'CRC16' is not one uploads"),
        ({"checksum_algorithm": None}, r"^checksum_algorithm: None is not one uploads"),
        ({"checksum_type": "PARTS"}, r"^checksum_type: 'PARTS' must be one of"),
        ({"checksum_type": 1}, r"^checksum_type: 1 must be one of"),
        (
            {"checksum_algorithm": "SHA256", "checksum_type": "FULL_OBJECT"},
            r"^checksum_type: FULL_OBJECT needs a CRC",
        ),
        (
            {"checksum_algorithm": "SHA1", "checksum_type": "FULL_OBJECT"},
            r"^checksum_type: FULL_OBJECT needs a CRC .* SHA1 of multipart objects",
        ),
        (
            {"checksum_algorithm": "CRC64NVME", "checksum_type": "COMPOSITE"},
            r"^checksum_type: S3 keeps CRC64NVME of multipart objects only as FULL_OBJECT",
        ),
    ],
)
def test_upload_checksum_settings_are_validated(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make(**overrides)


# -- TLS verification and botocore settings ----------------------------------------------------


def test_verify_takes_true_false_or_a_ca_bundle(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert make().verify is True
    assert make(verify=False).verify is False
    assert make(verify=str(bundle)).verify == str(bundle)
    with pytest.raises(ConfigError, match="^verify: CA bundle .* is not a readable file"):
        make(verify=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="^verify: "):
        make(verify=1)


def test_botocore_config_takes_only_what_orbit_does_not_set_itself():
    options = {"signature_version": "unsigned", "proxies": {"https": "http://proxy:3128"},
               "s3": {"payload_signing_enabled": True}}  # fmt: skip
    assert make(botocore_config=options).botocore_config == options
    for bad, rule in [
        ({"retries": {"max_attempts": 10}}, "'retries' is not supported"),
        ({"signature_version": "s3"}, "signature_version 's3' is not supported"),
        ({"s3": {"addressing_style": "path"}}, "s3.addressing_style is not supported"),
        ("path", "must be a dict"),
    ]:
        with pytest.raises(ConfigError, match=f"^botocore_config: .*{rule}"):
            make(botocore_config=bad)
