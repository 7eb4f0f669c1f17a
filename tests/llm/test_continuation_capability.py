"""The continuation capability (``SupportsContinuation``) is what the engine tells backends
apart by: the embedded backend has it, the HTTP one and the test's scripted one do not. On
the real classes, without a model: the model's own checks are in test_embedded_controls."""

import inspect

from persona_studio.llm.base import SupportsContinuation
from persona_studio.llm.embedded import EmbeddedBackend
from persona_studio.llm.openai_compat import OpenAICompatBackend
from tests.scripted_backend import ScriptedBackend

# The protocol's members, as declared in llm/base.py.
MEMBERS = ("chat_tokens", "tokenize_text", "continuation", "evaluate_fresh")


def test_the_embedded_backend_supports_continuation():
    assert issubclass(EmbeddedBackend, SupportsContinuation)


def test_http_and_scripted_backends_do_not():
    assert not issubclass(OpenAICompatBackend, SupportsContinuation)
    assert not issubclass(ScriptedBackend, SupportsContinuation)
    http = OpenAICompatBackend("http://127.0.0.1:8080/v1", "qwen2.5:0.5b")  # no request made
    try:
        assert not isinstance(http, SupportsContinuation)
    finally:
        http.close()
    assert not isinstance(ScriptedBackend([]), SupportsContinuation)


def test_the_protocol_declares_what_the_embedded_backend_accepts():
    """Every parameter the protocol names, with its kind, default and type, is the embedded
    backend's; a new option on one side must be declared on the other."""
    for name in MEMBERS:
        declared = inspect.signature(getattr(SupportsContinuation, name)).parameters
        actual = inspect.signature(getattr(EmbeddedBackend, name)).parameters
        assert [(p.name, p.kind, p.default, p.annotation) for p in declared.values()] == [
            (p.name, p.kind, p.default, p.annotation) for p in actual.values()
        ], name
