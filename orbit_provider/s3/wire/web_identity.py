"""A boto3 Session whose credentials come from STS AssumeRoleWithWebIdentity (a token file, as
EKS IRSA mounts one), fetched on first use and refreshed before they expire.

The amazon provider's `assume_role_method="assume_role_with_web_identity"`, for connections
that name the role and the token file themselves; without a connection boto3's own chain
already reads AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.session
from botocore.credentials import (
    AssumeRoleWithWebIdentityCredentialFetcher,
    DeferredRefreshableCredentials,
)
from botocore.utils import FileWebIdentityTokenLoader

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.wire import log_redaction

#: STS arguments a web identity role may take besides the role and the token
WEB_IDENTITY_ARGS = frozenset(
    {"RoleSessionName", "DurationSeconds", "Policy", "PolicyArns", "ProviderId"}
)


def token_file_for(token_file: str | None) -> str:
    """The token file given, else AWS_WEB_IDENTITY_TOKEN_FILE; ConfigError when neither is
    a readable file."""
    path = token_file or os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    if not path:
        raise ConfigError(
            "web_identity_token_file: no token file given and AWS_WEB_IDENTITY_TOKEN_FILE "
            "is not set"
        )
    if not os.path.isfile(path):
        raise ConfigError(f"web_identity_token_file: {path!r} is not a readable file")
    return path


def web_identity_session(
    role_arn: str,
    token_file: str | None = None,
    *,
    region: str | None = None,
    sts_endpoint: str | None = None,
    extra_args: Mapping[str, Any] | None = None,
) -> boto3.session.Session:
    """A Session with the role's credentials from AssumeRoleWithWebIdentity (unsigned: the
    token is the proof). No request is made until the session is first used."""
    path = token_file_for(token_file)
    unknown = sorted(set(extra_args or {}) - WEB_IDENTITY_ARGS)
    if unknown:
        raise ConfigError(
            f"assume_role_kwargs: {unknown[0]!r} is not an AssumeRoleWithWebIdentity argument "
            f"({', '.join(sorted(WEB_IDENTITY_ARGS))})"
        )
    log_redaction.install()  # the STS response body carries the role's secret and token
    base = botocore.session.get_session()
    if region:
        base.set_config_variable("region", region)

    def create_client(service: str, **kwargs: Any) -> Any:
        if sts_endpoint:
            kwargs.setdefault("endpoint_url", sts_endpoint)
        if region:
            kwargs.setdefault("region_name", region)
        return base.create_client(service, **kwargs)

    fetcher = AssumeRoleWithWebIdentityCredentialFetcher(
        client_creator=create_client,
        web_identity_token_loader=FileWebIdentityTokenLoader(path),
        role_arn=role_arn,
        extra_args=dict(extra_args or {}),
    )
    session = botocore.session.get_session()
    session._credentials = DeferredRefreshableCredentials(  # same as the amazon provider
        refresh_using=fetcher.fetch_credentials, method="assume-role-with-web-identity"
    )
    if region:
        session.set_config_variable("region", region)
    return boto3.session.Session(botocore_session=session)
