"""get_provider_info() and discovery by Airflow's ProvidersManager."""

from __future__ import annotations

import importlib.metadata

from orbit_provider import __version__, get_provider_info


def test_provider_info_names_the_distribution_and_the_connection_type():
    info = get_provider_info()
    dist = importlib.metadata.distribution("airflow-provider-orbit")
    assert info["package-name"] == dist.metadata["Name"]
    assert info["versions"] == [__version__]
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "orbit_s3"
    assert conn_type["hook-class-name"] == "orbit_provider.hooks.orbit_s3.OrbitS3Hook"
    modules = [m for kind in ("operators", "sensors", "triggers", "hooks")
               for item in info[kind] for m in item["python-modules"]]  # fmt: skip
    assert "orbit_provider.sensors.object" in modules
    integrations = {i["integration-name"] for i in info["integrations"]}
    assert {t["integration-name"] for t in info["triggers"]} <= integrations


def test_providers_manager_discovers_the_provider_and_its_connection_form():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.providers["airflow-provider-orbit"].version == __version__
    hook = manager.hooks["orbit_s3"]
    assert hook.hook_class_name == "orbit_provider.hooks.orbit_s3.OrbitS3Hook"
    assert hook.connection_id_attribute_name == "orbit_conn_id"
    widgets = manager.connection_form_widgets
    assert "extra__orbit_s3__endpoint_url" in widgets
    assert widgets["extra__orbit_s3__aws_session_token"].is_sensitive
    assert manager.field_behaviours["orbit_s3"]["hidden_fields"] == ["host", "schema", "port"]


def test_every_extra_of_the_table_is_a_widget_of_the_form():
    from airflow.providers_manager import ProvidersManager

    from orbit_provider.hooks.connection_extras import EXTRAS

    widgets = ProvidersManager().connection_form_widgets
    for extra in EXTRAS:
        widget = widgets[f"extra__orbit_s3__{extra.name}"]
        assert widget.is_sensitive == extra.secret
        assert widget.field["schema"]["title"] == extra.label


def test_the_orbit_config_section_is_declared_with_its_defaults():
    from airflow.providers_manager import ProvidersManager

    ProvidersManager().initialize_providers_configuration()
    options = get_provider_info()["config"]["orbit"]["options"]
    assert set(options) == {"progress_xcom", "progress_xcom_interval", "progress_log_interval"}
    from airflow.configuration import conf

    assert conf.getboolean("orbit", "progress_xcom") is False
    assert conf.getfloat("orbit", "progress_log_interval") == 5.0
