"""OrbitPrefixUnchangedTrigger: waits in the triggerer until a prefix stops changing (see
OrbitPrefixUnchangedSensor). The inactivity period is counted from the trigger's own first
look, so a restarted triggerer starts the period again: it never succeeds too early."""

from __future__ import annotations

from orbit_provider.s3.conditions import PrefixUnchanged
from orbit_provider.triggers.polling import OrbitPollingTrigger


class OrbitPrefixUnchangedTrigger(OrbitPollingTrigger):
    """Polls until the objects under a prefix have not changed for the inactivity period.

    :param bucket: the bucket to watch.
    :param condition: the PrefixUnchanged condition, or its `to_dict()`.
    :param orbit_conn_id: the Airflow connection to use.
    :param poke_interval: seconds between two listings.
    :param timeout: seconds until a "timeout" event; None for no limit of its own.
    """

    condition_types = (PrefixUnchanged,)
