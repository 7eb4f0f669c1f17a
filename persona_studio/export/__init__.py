"""Personas to files and back: Markdown, text, Persona Studio JSON, SillyTavern character
cards (V1 read; V2/V3 as JSON and PNG), Ollama Modelfiles.

Qt-free: the CLI (export/cli.py) and the window's drag and drop use the same calls.

    doc = load_document(store, "Homelab Hank")             # store -> PersonaDocument
    path = export_persona(doc, "card-png", folder)          # -> folder/Homelab Hank.png
    for doc in import_file(path):                           # ImportFormatError if unusable
        outcome = save_document(store, doc)                 # outcome.saved.renamed on a clash
"""

from persona_studio.export.io import (
    FORMATS,
    MAX_IMPORT_BYTES,
    FileFormat,
    ImportTarget,
    export_persona,
    import_bytes,
    import_file,
    import_targets,
    render,
    safe_name,
)
from persona_studio.export.model import PersonaDocument, VersionEntry
from persona_studio.export.store_glue import (
    SaveOutcome,
    document_from_persona,
    load_document,
    save_document,
)

__all__ = [
    "FORMATS",
    "MAX_IMPORT_BYTES",
    "FileFormat",
    "ImportTarget",
    "PersonaDocument",
    "SaveOutcome",
    "VersionEntry",
    "document_from_persona",
    "export_persona",
    "import_bytes",
    "import_file",
    "import_targets",
    "load_document",
    "render",
    "safe_name",
    "save_document",
]
