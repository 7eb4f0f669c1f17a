"""Wiring a pipeline to the model pool: the one place the CLI, worker and window build it."""

from __future__ import annotations

from persona_studio.engine.pipeline import PersonaPipeline, PipelineConfig
from persona_studio.engine.templates import TemplateLibrary
from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool, ModelSettings


def build_pipeline(
    *,
    seed: int | None = None,
    pool: BackendPool | None = None,
    config: PipelineConfig | None = None,
    settings: ModelSettings | None = None,
    templates: TemplateLibrary | None = None,
) -> tuple[PersonaPipeline, BackendPool]:
    """A pipeline over ``pool`` (a new one if not given). Templates are loaded and checked
    here, so a broken user template fails before any job starts."""
    pool = pool or BackendPool(settings)
    pipeline = PersonaPipeline(
        templates or TemplateLibrary(),
        pool.get,
        config or PipelineConfig(seed=seed),
        default_model=DEFAULT_MODEL_ID,
    )
    return pipeline, pool
