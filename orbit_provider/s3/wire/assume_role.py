"""A boto3 Session whose credentials come from STS AssumeRole and refresh before they expire.

Used by the Airflow hook for a connection's `role_arn`, usable from any Python program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.credentials import DeferredRefreshableCredentials

from orbit_provider.s3.config import Credentials
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.wire import log_redaction

_ROLE_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")


@dataclass(frozen=True)
class AssumeRole:
    """Which role to assume: ARN, session name, optional external id, session duration."""

    role_arn: str
    session_name: str = "orbit-provider"
    external_id: str | None = None
    duration_seconds: int = 3600

    def __post_init__(self) -> None:
        if not isinstance(self.role_arn, str) or not _ROLE_ARN_RE.match(self.role_arn):
            raise ConfigError(
                f"role_arn: {self.role_arn!r} is not an IAM role ARN "
                "(arn:aws:iam::<12-digit account>:role/<name>)"
            )
        if not isinstance(self.session_name, str) or not _SESSION_NAME_RE.match(
            self.session_name
        ):
            raise ConfigError(
                f"role_session_name: {self.session_name!r} must be 2-64 characters of "
                "letters, digits and +=,.@_-"
            )
        if self.external_id is not None and (
            not isinstance(self.external_id, str) or not 2 <= len(self.external_id) <= 1224
        ):
            raise ConfigError("external_id: must be a string of 2 to 1224 characters")
        if (
            isinstance(self.duration_seconds, bool)
            or not isinstance(self.duration_seconds, int)
            or not 900 <= self.duration_seconds <= 43200
        ):
            raise ConfigError(
                f"duration_seconds: {self.duration_seconds!r} must be 900 to 43200 seconds"
            )


def assume_role_session(
    role: AssumeRole,
    *,
    credentials: Credentials | None = None,
    profile: str | None = None,
    region: str | None = None,
    sts_endpoint: str | None = None,
) -> boto3.session.Session:
    """A Session with the role's credentials, fetched on first use and refreshed by botocore.

    The base identity that calls AssumeRole is `credentials`, else `profile`, else the
    standard AWS credential chain. No request is made until the session is first used.
    """
    if credentials is not None:
        base = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=region,
        )
    else:
        base = boto3.session.Session(profile_name=profile, region_name=region)
    log_redaction.install()  # AssumeRole's response body carries the role's secret and token
    sts = base.client("sts", region_name=region, endpoint_url=sts_endpoint)
    params: dict[str, Any] = {
        "RoleArn": role.role_arn,
        "RoleSessionName": role.session_name,
        "DurationSeconds": role.duration_seconds,
    }
    if role.external_id:
        params["ExternalId"] = role.external_id

    def refresh() -> dict[str, str]:
        found = sts.assume_role(**params)["Credentials"]
        return {
            "access_key": found["AccessKeyId"],
            "secret_key": found["SecretAccessKey"],
            "token": found["SessionToken"],
            "expiry_time": found["Expiration"].isoformat(),
        }

    botocore_session = botocore.session.get_session()
    botocore_session._credentials = DeferredRefreshableCredentials(  # same as the amazon provider
        refresh_using=refresh, method="sts-assume-role"
    )
    if region:
        botocore_session.set_config_variable("region", region)
    return boto3.session.Session(botocore_session=botocore_session)
