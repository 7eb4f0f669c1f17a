"""A job's running totals are counted by its JobTally alone: the stage's own figures come
from the pipeline, the job's total over the stages is added here."""

from __future__ import annotations

from persona_studio.core.events import JobTally, Retried, StageStarted, TextWritten


def test_the_tally_stamps_events_and_counts_the_job_over_its_stages() -> None:
    tally = JobTally(7)
    assert tally.add(StageStarted("expansion")) == StageStarted("expansion", request_id=7)
    assert tally.stage == "expansion" and tally.tokens == 0
    tally.add(TextWritten("expansion", "A", stage_tokens=1, tokens_per_s=20.0))
    written = tally.add(TextWritten("expansion", "B", stage_tokens=2, tokens_per_s=25.0))
    assert (written.stage_tokens, written.job_tokens, written.request_id) == (2, 2, 7)
    tally.add(StageStarted("refinement"))
    written = tally.add(TextWritten("refinement", "C", stage_tokens=3, tokens_per_s=30.0))
    assert written.job_tokens == 5 and tally.tokens == 5 and tally.tokens_per_s == 30.0
    # A retry says why; it changes neither the stage nor the figures.
    assert tally.add(Retried("refinement", "again")) == Retried("refinement", "again", 7)
    # A stage run again goes on counting its own tokens: the job's total is not counted twice.
    tally.add(StageStarted("check"))
    tally.add(StageStarted("refinement"))
    written = tally.add(TextWritten("refinement", "D", stage_tokens=4, tokens_per_s=10.0))
    assert written.job_tokens == 6 and tally.stage == "refinement"
