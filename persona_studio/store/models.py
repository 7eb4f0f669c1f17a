"""SQLModel classes mapping the tables the store reads and writes.

FORLLM's tables are mapped column for column as init_db() declares them (names, SQL types,
NOT NULL, DEFAULT); ``tests/store/test_schema.py`` checks every mapped column against
``PRAGMA table_info`` of a FORLLM-made file. They are never created from these classes: a
new file gets FORLLM's verbatim DDL (``forllm_schema.py``) and ours gets the DDL in
``migrations.py``, so the text in ``sqlite_master`` is what FORLLM and our migrations wrote.

No foreign keys are declared: FORLLM never enables them, its rows may not satisfy them, and
every join here is written out explicitly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from persona_studio.store.timestamps import UtcTimestamp


def _text(*, nullable: bool = True, default: str | None = None, unique: bool = False) -> Any:
    kwargs = {"server_default": sa.text(default)} if default is not None else {}
    return Field(
        default=None, sa_type=sa.Text, nullable=nullable, unique=unique, sa_column_kwargs=kwargs
    )


def _int(*, nullable: bool = True, default: str | None = None) -> Any:
    kwargs = {"server_default": sa.text(default)} if default is not None else {}
    return Field(default=None, sa_type=sa.Integer, nullable=nullable, sa_column_kwargs=kwargs)


def _bool(*, nullable: bool = True, default: str | None = None) -> Any:
    kwargs = {"server_default": sa.text(default)} if default is not None else {}
    return Field(default=None, sa_type=sa.Boolean, nullable=nullable, sa_column_kwargs=kwargs)


def _timestamp(*, nullable: bool = True, default: str | None = None) -> Any:
    kwargs = {"server_default": sa.text(default)} if default is not None else {}
    return Field(default=None, sa_type=UtcTimestamp, nullable=nullable, sa_column_kwargs=kwargs)


def _pk() -> Any:
    return Field(default=None, primary_key=True, sa_type=sa.Integer)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Table a ``table=True`` class maps (SQLModel declares no ``__table__`` for type
    checkers)."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table


# --- FORLLM's tables ---------------------------------------------------------------------


class UserRow(SQLModel, table=True):
    __tablename__ = "users"

    user_id: int | None = _pk()
    username: str = _text(nullable=False, unique=True)


class SubforumRow(SQLModel, table=True):
    __tablename__ = "subforums"

    subforum_id: int | None = _pk()
    name: str = _text(nullable=False, unique=True)
    # Added by our migration 1; FORLLM's own code already selects it.
    description: str | None = _text()


class SettingRow(SQLModel, table=True):
    __tablename__ = "settings"

    setting_key: str = Field(primary_key=True, sa_type=sa.Text)
    setting_value: str | None = _text()


class LlmRequestRow(SQLModel, table=True):
    __tablename__ = "llm_requests"

    request_id: int | None = _pk()
    post_id_to_respond_to: int | None = _int()
    requested_at: datetime | None = _timestamp(default="CURRENT_TIMESTAMP")
    status: str = _text(nullable=False, default="'pending'")
    llm_model: str | None = _text()
    llm_persona: str | None = _text()
    processed_at: datetime | None = _timestamp()
    error_message: str | None = _text()
    full_prompt_sent: str | None = _text()
    request_type: str | None = _text()
    request_params: str | None = _text()
    requested_by_user_id: int | None = _int()
    prompt_token_breakdown: str | None = _text()
    parent_request_id: int | None = _int()


class PersonaRow(SQLModel, table=True):
    __tablename__ = "personas"

    persona_id: int | None = _pk()
    name: str = _text(nullable=False, unique=True)
    prompt_instructions: str = _text(nullable=False)
    created_at: datetime | None = _timestamp(default="CURRENT_TIMESTAMP")
    updated_at: datetime | None = _timestamp(default="CURRENT_TIMESTAMP")
    created_by_user: int | None = _int()
    version: int | None = _int(default="1")
    is_active: bool | None = _bool(default="TRUE")
    generation_source: str | None = _text()
    generation_input_details: str | None = _text()


class PersonaVersionRow(SQLModel, table=True):
    __tablename__ = "persona_versions"

    version_id: int | None = _pk()
    persona_id: int = _int(nullable=False)
    name: str = _text(nullable=False)
    prompt_instructions: str = _text(nullable=False)
    updated_at: datetime | None = _timestamp(default="CURRENT_TIMESTAMP")
    updated_by_user: int | None = _int()
    version: int = _int(nullable=False)


class SubforumPersonaRow(SQLModel, table=True):
    __tablename__ = "subforum_personas"

    subforum_persona_id: int | None = _pk()
    subforum_id: int = _int(nullable=False)
    persona_id: int = _int(nullable=False)
    assigned_at: datetime | None = _timestamp(default="CURRENT_TIMESTAMP")
    is_default_for_subforum: bool | None = _bool(default="FALSE")


# --- Persona Studio's tables (prefixed ps_, created by migrations.py) ------------------------


class SchemaMigrationRow(SQLModel, table=True):
    __tablename__ = "ps_schema_migrations"

    id: int | None = _pk()
    name: str = _text(nullable=False)
    applied_at: datetime = _timestamp(nullable=False)


class JobRow(SQLModel, table=True):
    """Our side of a ``generate_persona`` row in llm_requests (same request_id).

    A separate table, not columns on llm_requests, so FORLLM's table keeps its shape and a
    processing row without one of these is recognisably claimed by FORLLM's own worker.
    """

    __tablename__ = "ps_jobs"

    request_id: int | None = _pk()
    position: int | None = _int()
    owner: str | None = _text()
    owner_host: str | None = _text()
    owner_pid: int | None = _int()
    claimed_at: datetime | None = _timestamp()
    heartbeat_at: datetime | None = _timestamp()
    attempts: int = _int(nullable=False, default="0")
    cancel_requested: bool = _bool(nullable=False, default="0")
    cancelled: bool = _bool(nullable=False, default="0")
    stage: str | None = _text()
    tokens: int | None = _int()
    tokens_per_s: float | None = Field(default=None, sa_type=sa.REAL)
    persona_id: int | None = _int()


class PersonaGenerationRow(SQLModel, table=True):
    """How one version of a persona was generated (FORLLM's generation_input_details keeps
    only the input details; everything else we know goes here, as JSON text)."""

    __tablename__ = "ps_persona_generation"

    id: int | None = _pk()
    persona_id: int = _int(nullable=False)
    version: int = _int(nullable=False)
    request_id: int | None = _int()
    generation_type: str | None = _text()
    model: str | None = _text()
    request_params: str | None = _text()
    output_preferences: str | None = _text()
    template_versions: str | None = _text()
    stats: str | None = _text()
    created_at: datetime = _timestamp(nullable=False)


class RatingRow(SQLModel, table=True):
    """A writer's rating of a persona (one row per rated persona; no row = not rated)."""

    __tablename__ = "ps_ratings"

    persona_id: int | None = _pk()
    rating: int = _int(nullable=False)  # CHECK (rating IN (1, 2, 3, 4, 5)) in the DDL
    note: str = _text(nullable=False, default="''")
    rated_at: datetime = _timestamp(nullable=False)


class TemplateVersionRow(SQLModel, table=True):
    """The text of a template version, stored once, the first time a persona used it."""

    __tablename__ = "ps_template_versions"

    id: int | None = _pk()
    # Unique: index ps_template_versions_version (migration 6).
    version: str = Field(sa_type=sa.Text, nullable=False, unique=True)
    stage: str = _text(nullable=False)
    generation_type: str = _text(nullable=False)
    source: str = _text(nullable=False)
    text: str = _text(nullable=False)
    first_seen_at: datetime = _timestamp(nullable=False)


class PersonaCheckRow(SQLModel, table=True):
    """A persona check of one version: the model's answers to the probe questions with the
    persona as system prompt, and their score (persona_studio/engine/persona_check.py)."""

    __tablename__ = "ps_persona_checks"

    id: int | None = _pk()
    persona_id: int = _int(nullable=False)
    version: int = _int(nullable=False)
    model: str | None = _text()
    checked_at: datetime = _timestamp(nullable=False)
    score: float | None = Field(default=None, sa_type=sa.REAL)
    summary: str | None = _text()
    result: str | None = _text()  # JSON
