"""The wheel users install: Airflow provider classifiers and project URLs in its metadata,
the provider entry point, and none of the development tools (orbit_provider/testing, the
demo), which run from a checkout only."""

from __future__ import annotations

import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    from hatchling.builders.wheel import WheelBuilder

    out = tmp_path_factory.mktemp("dist")
    (path,) = WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"])
    return zipfile.ZipFile(path)


def test_the_wheel_leaves_the_development_tools_out(wheel):
    names = wheel.namelist()
    assert "orbit_provider/operators/batch.py" in names
    assert "orbit_provider/s3/batch/copy.py" in names
    assert not [n for n in names if n.startswith("orbit_provider/testing/")]
    assert "orbit_provider/demo.py" not in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "dags_examples/"))]


def test_no_installed_module_imports_a_development_tool():
    for path in (ROOT / "orbit_provider").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("orbit_provider/testing/") or relative.endswith("/demo.py"):
            continue
        text = path.read_text()
        assert "orbit_provider.testing" not in text and "orbit_provider.demo" not in text, relative


def test_the_metadata_says_it_is_an_airflow_provider(wheel):
    (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(wheel.read(meta).decode())
    classifiers = metadata.get_all("Classifier")
    assert "Framework :: Apache Airflow" in classifiers
    assert "Framework :: Apache Airflow :: Provider" in classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Bug Tracker"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    (entry,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    points = wheel.read(entry).decode()
    assert "[apache_airflow_provider]" in points
    assert "provider_info = orbit_provider:get_provider_info" in points
