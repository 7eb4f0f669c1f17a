"""The application as a user starts it: ``python -m persona_studio --db FILE``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings


def _migrated(path: Path) -> bool:
    with sqlite3.connect(path) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'ps_schema_migrations'"
            ).fetchone()
        )


def test_window_opens_the_file_and_quits_cleanly(forllm_db: Path, tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    env["PERSONA_STUDIO_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "persona_studio", "--db", str(forllm_db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not _migrated(forllm_db):
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "the window did not open the database"
            time.sleep(0.2)
        time.sleep(1.0)  # the worker thread starts and takes FORLLM's queued job
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    settings = QSettings(
        str(tmp_path / "config" / "persona-studio" / "Persona Studio.conf"),
        QSettings.Format.IniFormat,
    )
    assert settings.value("database/last") == str(forllm_db)
    assert settings.value("window/geometry") is not None
    assert "Traceback" not in output
