"""Database fixtures shared by the test suite.

``forllm_db`` is a fresh file made the way FORLLM makes one: tests/fixtures/make_forllm_db.py
(FORLLM's verbatim DDL plus realistic rows, ``--with-extras``) is run once per session and
each test gets its own byte-for-byte copy of the result in its tmp_path, which is as fresh
as re-running the script and much cheaper.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from persona_studio.store import Store

MAKE_FORLLM_DB = Path(__file__).parent / "fixtures" / "make_forllm_db.py"


def build_forllm_db(out: Path) -> Path:
    """Run FORLLM's fixture script into ``out`` (the script deletes ``out`` first)."""
    subprocess.run(
        [sys.executable, str(MAKE_FORLLM_DB), "--with-extras", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def _forllm_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_forllm_db(tmp_path_factory.mktemp("forllm-template") / "forllm_data.db")


@pytest.fixture
def forllm_db(_forllm_template: Path, tmp_path: Path) -> Path:
    """Path of a FORLLM-made database nobody has opened with Persona Studio yet."""
    target = tmp_path / "forllm_data.db"
    shutil.copyfile(_forllm_template, target)
    return target


@pytest.fixture
def store(forllm_db: Path) -> Iterator[Store]:
    opened = Store.open(forllm_db)
    yield opened
    opened.close()
