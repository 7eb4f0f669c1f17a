"""What the stages' templates are filled with, and the chat each stage sends.

The expansion's values are the user's words as given (``input_values``); the critique and
the refinement add the brainstorm (trimmed to the model's window), the hints as a list, the
headings with what belongs under each, and the length and tone instructions
(``refinement_values``).
"""

from __future__ import annotations

from persona_studio.core.document import guidance_for
from persona_studio.engine.brief import Brief
from persona_studio.engine.context import StageContext
from persona_studio.engine.headings import heading_line
from persona_studio.engine.request import PersonaGenerationRequest
from persona_studio.engine.stages import LengthProfile
from persona_studio.engine.templates import Template
from persona_studio.llm.base import ChatMessage, LLMBackend

# Plain words on purpose: a 135M model copies its system prompt into what it writes, and
# "a helpful, creative writing assistant" turned a sourdough baker into "a creative AI".
SYSTEM_PROMPT = "You write clear, specific character profiles. Follow the instructions exactly."


def messages_for(user_text: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_text},
    ]


def input_values(
    request: PersonaGenerationRequest, profile: LengthProfile, brief: Brief
) -> dict[str, str]:
    """The user's words as the templates name them; "(not given)" for what they left out."""
    prefs = request.output_preferences
    given = "(not given)"
    values = {
        key: request.detail(key) or given
        for key in (
            "name_hint",
            "description_hint",
            "subforum_name",
            "subforum_description",
            "additional_directives",
        )
    }
    values.update(
        target_persona_name_override=request.target_persona_name_override or given,
        tone_preference=prefs.tone_preference or given,
        length_preference=prefs.length_preference or "balanced",
        persona_label=brief.name,
        tone_line=(
            f"- The persona's tone should be {prefs.tone_preference}.\n"
            if prefs.tone_preference
            else ""
        ),
        word_target=profile.word_target,
    )
    return values


def refinement_values(ctx: StageContext, brainstorm: str) -> dict[str, str]:
    """What the critique and the refinement add to ``input_values``."""
    request, profile = ctx.request, ctx.profile
    prefs = request.output_preferences
    headings = prefs.headings
    # Keep the prompt and the persona inside the model's window: trim the brainstorm first.
    room = ctx.backend.context_length - 700 - profile.section_tokens * len(headings)
    brainstorm = fit_tokens(ctx.backend, brainstorm, max(room, 200))
    hints = [
        f"- {label}: {request.detail(key)}"
        for key, label in (
            ("name_hint", "Name"),
            ("description_hint", "Description"),
            ("subforum_name", "Subforum"),
            ("subforum_description", "Subforum description"),
            ("additional_directives", "Directives"),
        )
        if request.detail(key)
    ]
    if prefs.tone_preference:
        hints.append(f"- Tone: {prefs.tone_preference}")
    if prefs.length_preference:
        hints.append(f"- Length: {prefs.length_preference}")
    guidance = "\n".join(f"  {heading_line(h)} ({guidance_for(h)})" for h in headings)
    return {
        "brainstormed_text": brainstorm or "(no brainstorm available)",
        "original_input_details_summary": "\n".join(hints) or "(none)",
        "persona_name_or_hint": ctx.brief.name,
        "desired_headings_list_or_default": ", ".join(headings),
        "heading_guidance": guidance,
        "length_instruction": profile.instruction,
        "tone_instruction": (
            f"Make the persona's tone {prefs.tone_preference}, and describe that tone "
            "under the speaking style heading."
            if prefs.tone_preference
            else "Choose a tone that fits the persona."
        ),
    }


def refinement_chat(
    ctx: StageContext, template: Template, values: dict[str, str], brainstorm: str, critique: str
) -> list[ChatMessage]:
    """The refinement stage's chat: ``values`` with the brainstorm's and the critique's."""
    values = dict(values)
    values.update(refinement_values(ctx, brainstorm))
    values["critique_notes"] = critique or "(none)"
    return messages_for(template.render(values))


def fit_tokens(backend: LLMBackend, text: str, max_tokens: int) -> str:
    if not text or backend.count_tokens(text) <= max_tokens:
        return text
    # Cut by characters in proportion, then at a paragraph or sentence end.
    ratio = max_tokens / backend.count_tokens(text)
    cut = text[: int(len(text) * ratio * 0.95)]
    end = max(cut.rfind("\n\n"), cut.rfind(". "))
    return cut[: end + 1] if end > len(cut) // 2 else cut
