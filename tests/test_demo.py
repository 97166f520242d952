"""`make demo` (python -m orbit_provider.demo) runs to the end: the README's first command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_demo_moves_real_data_and_accounts_for_every_key():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "AWS_", "_ORBIT"))}  # a fresh shell's
    done = subprocess.run(
        [sys.executable, "-m", "orbit_provider.demo"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every key accounted for once: True" in done.stdout
    assert "Done in" in done.stdout
