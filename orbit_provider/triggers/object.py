"""OrbitObjectTrigger: waits in the triggerer until objects are ready (see OrbitObjectSensor)."""

from __future__ import annotations

from orbit_provider.s3.conditions import KeysReady, ObjectReady, PrefixReady
from orbit_provider.triggers.polling import OrbitPollingTrigger


class OrbitObjectTrigger(OrbitPollingTrigger):
    """Polls until a key (ObjectReady), every key of a list (KeysReady) or enough objects
    under a prefix (PrefixReady) are ready.

    :param bucket: the bucket to watch.
    :param condition: the condition, or its `to_dict()`.
    :param orbit_conn_id: the Airflow connection to use.
    :param poke_interval: seconds between two checks.
    :param timeout: seconds until a "timeout" event; None for no limit of its own.
    """

    condition_types = (ObjectReady, KeysReady, PrefixReady)
