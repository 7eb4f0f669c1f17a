"""Persona Studio's storage: FORLLM's own SQLite file, shared with FORLLM.

Only this package touches the database. It never imports Qt or the engine: the worker, the
CLI and the window all go through :class:`Store`.
"""

from persona_studio.store.card_extras import CardExtras, clean_tags
from persona_studio.store.queue import CANCELLED, CANCELLED_BEFORE_START, GENERATE_PERSONA
from persona_studio.store.records import (
    ClaimedJob,
    Job,
    JobStatus,
    LeaseState,
    NewCheck,
    NewPersona,
    Persona,
    PersonaCheck,
    PersonaSummary,
    PersonaVersion,
    Rating,
    RatingGroup,
    SavedPersona,
    Subforum,
    TemplateVersionRecord,
)
from persona_studio.store.storage import Store

__all__ = [
    "CANCELLED",
    "CANCELLED_BEFORE_START",
    "CardExtras",
    "GENERATE_PERSONA",
    "ClaimedJob",
    "Job",
    "JobStatus",
    "LeaseState",
    "NewCheck",
    "NewPersona",
    "Persona",
    "PersonaCheck",
    "PersonaSummary",
    "PersonaVersion",
    "Rating",
    "RatingGroup",
    "SavedPersona",
    "Store",
    "Subforum",
    "TemplateVersionRecord",
    "clean_tags",
]
