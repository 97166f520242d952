"""The one table of connection extras: parser, form and README agree with it and each other."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from airflow.sdk import Connection

from orbit_provider import get_provider_info
from orbit_provider.hooks import connection_extras
from orbit_provider.hooks.connection import ConnectionConfigError, settings_from_connection
from orbit_provider.hooks.connection_extras import (
    EXTRAS,
    README_END,
    README_START,
    markdown_table,
    readme_block,
)
from orbit_provider.s3.config import MIB, S3Config, ServerSideEncryption, StorageClass

README = Path(__file__).resolve().parents[2] / "README.md"
ROLE = "arn:aws:iam::123456789012:role/orbit"

# For every extra: a raw value as a connection would hold it, and what it must become.
SAMPLES = {
    "region_name": ("eu-west-1", "eu-west-1"),
    "endpoint_url": ("http://127.0.0.1:8333", "http://127.0.0.1:8333"),
    "force_path_style": ("true", True),
    "bucket": ("my-bucket", "my-bucket"),
    "aws_session_token": ("FwoGZXIvYXdzEXAMPLE", "FwoGZXIvYXdzEXAMPLE"),
    "profile_name": ("dev", "dev"),
    "role_arn": (ROLE, ROLE),
    "external_id": ("x-1", "x-1"),
    "role_session_name": ("nightly", "nightly"),
    "sts_endpoint_url": ("https://sts.eu-west-1.amazonaws.com",
                         "https://sts.eu-west-1.amazonaws.com"),
    "chunk_size": ("8MiB", 8 * MIB),
    "parallel_operations": ("7", 7),
    "max_bandwidth": ("1 MB", 1_000_000),
    "timeout_seconds": ("60", 60.0),
    "max_retries": (5, 5),
    "circuit_breaker_timeout": ("5", 5.0),
    "use_accelerate_endpoint": ("true", True),
    "require_verification": ("true", True),
    "circuit_breaker_open_cycles": (2, 2),
    "verify_checksums": ("false", False),
    "direct_io": (False, False),
    "multipart_copy_threshold": ("64MiB", 64 * MIB),
    "storage_class": ("glacier", StorageClass.GLACIER),
    "server_side_encryption": ("AES256", ServerSideEncryption.aes256()),
    "sse_kms_key_id": ("alias/orbit", ServerSideEncryption.kms("alias/orbit")),
    "verify": ("false", False),
    "botocore_config": ('{"connect_timeout": 5}', {"connect_timeout": 5}),
    "assume_role_method": ("assume_role_with_web_identity", "assume_role_with_web_identity"),
    "assume_role_kwargs": ({"DurationSeconds": 1800}, {"DurationSeconds": 1800}),
    "assume_role_with_web_identity_token_file": (__file__, __file__),
    "assume_role_with_web_identity_federation": ("file", "file"),
    "aws_account_id": ("123456789012", "123456789012"),
    "checksum_algorithm": ("crc32c", "CRC32C"),
    "checksum_type": ("COMPOSITE", "COMPOSITE"),
}  # fmt: skip


def conn(extra: dict, **fields) -> Connection:
    return Connection(conn_id="orbit_test", conn_type="orbit_s3", extra=json.dumps(extra),
                      **fields)  # fmt: skip


def accepted_extras() -> set[str]:
    """What the parser accepts, read from its own error for an unknown extra."""
    with pytest.raises(ConnectionConfigError, match="unknown extra") as info:
        settings_from_connection(conn({"no_such_extra": 1}))
    return set(re.search(r"\(accepted: (.*)\)", str(info.value)).group(1).split(", "))


def resolve(extra: connection_extras.ConnectionExtra, extras: dict, **fields):
    """The value the table says `extra` sets (None when its owner is not there)."""
    settings = settings_from_connection(conn(extras, **fields))
    owners = {
        "S3Config": lambda: settings.config("some-bucket"),
        "ConnectionSettings": lambda: settings,
        "Credentials": lambda: settings.config("some-bucket").credentials,
        "AssumeRole": lambda: settings.assume_role,
    }
    owner, attribute = extra.target.split(".")
    found = owners[owner]()
    return None if found is None else getattr(found, attribute)


def context_for(extra: connection_extras.ConnectionExtra) -> tuple[dict, dict]:
    """The other extras and fields `extra` needs to be valid on its own."""
    if extra.target.startswith("AssumeRole.") and extra.name != "role_arn":
        return {"role_arn": ROLE}, {}
    token = {"assume_role_with_web_identity_token_file": __file__}
    if extra.name == "assume_role_method":  # web identity needs a token file
        return {"role_arn": ROLE, **token}, {}
    if extra.name == "assume_role_with_web_identity_federation":
        return {"role_arn": ROLE, "assume_role_method": "assume_role_with_web_identity",
                **token}, {}  # fmt: skip
    if extra.name.startswith("assume_role"):
        return {"role_arn": ROLE}, {}
    if extra.target.startswith("Credentials."):
        return {}, {"login": "AKIAEXAMPLE", "password": "secret"}
    return {}, {}


def test_the_readme_table_is_the_one_generated_from_the_code():
    text = README.read_text(encoding="utf-8")
    assert readme_block(text) == markdown_table(), (
        "README.md's table of extras is stale: run "
        "`python -m orbit_provider.hooks.connection_extras --update README.md`"
    )


def test_every_extra_the_parser_accepts_has_a_form_field_and_vice_versa():
    (conn_type,) = get_provider_info()["connection-types"]
    form = set(conn_type["conn-fields"])
    assert accepted_extras() == form
    assert form == {extra.name for extra in EXTRAS}


def test_every_extra_has_a_sample_here():
    assert set(SAMPLES) == {extra.name for extra in EXTRAS}


@pytest.mark.parametrize("extra", EXTRAS, ids=lambda e: e.name)
def test_each_extra_is_parsed_and_lands_where_the_table_says(extra):
    raw, expected = SAMPLES[extra.name]
    extras, fields = context_for(extra)
    assert resolve(extra, {**extras, extra.name: raw}, **fields) == expected


@pytest.mark.parametrize("extra", EXTRAS, ids=lambda e: e.name)
def test_each_documented_default_is_what_an_unset_extra_gives(extra):
    extras, fields = context_for(extra)
    assert resolve(extra, extras, **fields) == extra.default
    if extra.config_field:
        declared = {f.name: f.default for f in dataclasses.fields(S3Config)}
        assert declared[extra.config_field] == extra.default


def test_form_fields_follow_the_kind_and_mark_secrets():
    fields = connection_extras.conn_fields()
    assert fields["aws_session_token"]["schema"]["format"] == "password"
    assert fields["chunk_size"]["schema"] == {"type": ["integer", "null"], "minimum": 5 * MIB}
    assert fields["direct_io"]["schema"] == {"type": "boolean", "default": True}
    assert all(field["label"] and field["description"] for field in fields.values())


def test_the_script_prints_the_table_and_updates_a_stale_readme(tmp_path, capsys):
    assert connection_extras.main([]) == 0
    assert capsys.readouterr().out == markdown_table()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\n| old |\n{README_END}\nrest\n", encoding="utf-8")
    assert connection_extras.main(["--update", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text == f"intro\n{README_START}\n{markdown_table()}{README_END}\nrest\n"
    assert connection_extras.update_readme(readme) is False  # already up to date
    assert connection_extras.main(["--bogus"]) == 2
    with pytest.raises(ValueError, match="connection-extras:start"):
        readme_block("no markers here")


def test_airflow_serves_every_extra_with_help_and_the_placeholders():
    """What Airflow's providers manager builds the connection form from (Airflow 3.2+)."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    for extra in EXTRAS:
        widget = widgets[f"extra__orbit_s3__{extra.name}"]
        assert widget.field["description"] == extra.description
        assert widget.field["schema"]["title"] == extra.label
    assert widgets["extra__orbit_s3__aws_session_token"].is_sensitive
    behaviour = manager.field_behaviours["orbit_s3"]
    assert behaviour["hidden_fields"] == ["host", "schema", "port"]
    shown = behaviour["placeholders"]
    assert shown["extra__orbit_s3__endpoint_url"].startswith("http://127.0.0.1:8333")
    assert shown["extra__orbit_s3__role_arn"].startswith("arn:aws:iam::")
    assert "credential chain" in shown["login"]
