"""Where Persona Studio finds its shipped files and keeps the user's.

User data lives in the platform's data dir (platformdirs). ``PERSONA_STUDIO_DATA_DIR``
overrides it, which the tests use to keep every run in a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "persona-studio"
DATA_DIR_ENV = "PERSONA_STUDIO_DATA_DIR"
# FORLLM's own default file name; a user who points FORLLM at this file shares it at once.
DEFAULT_DB_NAME = "forllm_data.db"

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    path = (
        Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    return data_dir() / DEFAULT_DB_NAME


def models_dir() -> Path:
    """Folder the user drops GGUF files into; every ``*.gguf`` in it is offered as a model."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_prompts_dir() -> Path:
    """The user's template overrides: same layout as the shipped ``prompts/`` folder."""
    return data_dir() / "prompts"


def _shipped_dir(name: str) -> Path:
    # Installed wheel: the folder is copied inside the package. Source checkout (editable
    # install or PYTHONPATH): it sits at the top of the repository.
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"The shipped '{name}' folder is missing (looked in {_PACKAGE_DIR} and its parent); "
        "reinstall Persona Studio."
    )


def shipped_prompts_dir() -> Path:
    return _shipped_dir("prompts")


def resources_dir() -> Path:
    return _shipped_dir("resources")
