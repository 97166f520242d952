"""docs/howto/: one page per operator and sensor, and every code block on a page is the
example DAG's code between its markers, verbatim (the examples run in tests/dags/)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import textwrap
from pathlib import Path

import pytest
from airflow.sdk import BaseOperator

import orbit_provider.operators
import orbit_provider.sensors

ROOT = Path(__file__).parents[2]
HOWTO = ROOT / "docs" / "howto"
INCLUDE = re.compile(r"<!-- howto: (\S+) (\S+) -->\n```python\n(.*?)\n```", re.DOTALL)
PAGES = sorted(p for p in HOWTO.glob("*.md") if p.name != "index.md")


def public_classes() -> set[str]:
    """Every operator and sensor a DAG author uses (bases and private helpers left out)."""
    found = set()
    for package in (orbit_provider.operators, orbit_provider.sensors):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, obj in vars(module).items():
                if (inspect.isclass(obj) and issubclass(obj, BaseOperator)
                        and obj.__module__ == module.__name__ and not name.startswith("_")
                        and not inspect.isabstract(obj) and "Base" not in name):  # fmt: skip
                    found.add(name)
    return found


def marked_block(example: Path, marker: str) -> str:
    lines = example.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# [START {marker}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# [END {marker}]"]
    assert len(starts) == len(ends) == 1, f"{example.name}: {marker} must be marked once"
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]]))


def test_every_operator_and_sensor_has_a_howto_page_listed_in_the_index():
    titles = {p.read_text().splitlines()[0].removeprefix("# ") for p in PAGES}
    classes = public_classes()
    assert len(classes) >= 20
    assert classes <= titles, sorted(classes - titles)
    index = (HOWTO / "index.md").read_text()
    for page in PAGES:
        assert f"]({page.name})" in index


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_each_page_includes_its_example_verbatim(page):
    text = page.read_text()
    includes = INCLUDE.findall(text)
    assert includes, f"{page.name} includes no example"
    assert text.count("```python") == len(includes), "every code block comes from an example"
    name = text.splitlines()[0].removeprefix("# ")
    for path, marker, code in includes:
        example = ROOT / path
        assert example.parent.name == "dags_examples" and example.is_file()
        expected = marked_block(example, marker)
        assert code == expected, f"{page.name}: the block differs from {path} {marker}"
        assert name in code, f"{page.name}: the example does not use {name}"


def test_provider_info_lists_every_howto_page():
    from orbit_provider import get_provider_info

    integrations = get_provider_info()["integrations"]
    guides = {g for i in integrations for g in i.get("how-to-guide", [])}
    assert guides == {f"/docs/howto/{p.name}" for p in PAGES}
    for guide in guides:
        assert (ROOT / guide.lstrip("/")).is_file()


def test_provider_info_matches_airflows_schema():
    import json

    import airflow
    import jsonschema

    from orbit_provider import get_provider_info

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
