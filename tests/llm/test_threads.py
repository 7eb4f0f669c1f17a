"""The thread governor and the slow-speed watch, fed token times as a 2-core machine
produced them (bench/contention.py): 2 threads quiet about 13 ms a token, 1 thread about
21 ms, 2 threads next to another busy process 300-700 ms."""

from __future__ import annotations

import pytest

from persona_studio.llm.threads import (
    FIRST_PROBE_S,
    MAX_PROBE_INTERVAL_S,
    SLOW_FOR_S,
    SlowWatch,
    SpeedRecord,
    ThreadGovernor,
    default_threads,
    slowdown_message,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(governor: ThreadGovernor, clock: Clock, times, *, per_thread=None) -> None:
    """Each token's time; ``per_thread`` maps a thread count to its time instead."""
    for seconds in times:
        if per_thread is not None:
            seconds = per_thread[governor.current]
        clock.now += seconds
        governor.observe(seconds)


def make() -> tuple[ThreadGovernor, Clock, list[int]]:
    applied: list[int] = []
    clock = Clock()
    return ThreadGovernor(2, applied.append, clock=clock), clock, applied


def test_a_quiet_machine_keeps_every_thread():
    governor, clock, applied = make()
    feed(governor, clock, [0.013, 0.014, 0.012, 0.019, 0.013] * 200)
    assert governor.current == 2 and applied == []


def test_a_collapse_drops_to_one_thread_and_probes_back_with_backoff():
    governor, clock, applied = make()
    feed(governor, clock, [0.013] * 20)
    busy = {2: 0.5, 1: 0.021}
    feed(governor, clock, range(3), per_thread=busy)
    assert governor.current == 1 and applied == [1]
    # Busy still: each probe (2 tokens at 2 threads) fails; the gaps double up to a cap.
    probe_starts = []
    for _ in range(4000):
        before = governor.current
        feed(governor, clock, [0], per_thread=busy)
        if before == 1 and governor.current == 2:
            probe_starts.append(clock.now)
    gaps = [b - a for a, b in zip(probe_starts, probe_starts[1:], strict=False)]
    assert gaps[0] == pytest.approx(2 * FIRST_PROBE_S, abs=1.2)
    assert max(gaps) <= MAX_PROBE_INTERVAL_S + 2
    assert gaps[-1] == pytest.approx(MAX_PROBE_INTERVAL_S, abs=2)
    # Probing costs little: tokens at 2 threads are a few percent of the time.
    assert governor.current == 1
    # The other process ends: the next probe wins the full count back, and it stays.
    quiet = {2: 0.013, 1: 0.021}
    feed(governor, clock, range(3000), per_thread=quiet)
    assert governor.current == 2
    switches = governor.switches
    feed(governor, clock, range(500), per_thread=quiet)
    assert governor.switches == switches


def test_tokens_that_cost_more_as_the_context_grows_are_not_a_collapse():
    governor, clock, applied = make()
    # A 135M model's token costs twice as much at the end of a 4,096-token context.
    feed(governor, clock, [0.013 * (1 + i / 2000) for i in range(4000)])
    assert governor.current == 2 and applied == []


def test_one_slow_token_is_not_a_collapse():
    governor, clock, _applied = make()
    feed(governor, clock, [0.013] * 10 + [0.4] + [0.013] * 10)
    assert governor.current == 2


def test_a_fixed_count_is_not_governed(monkeypatch):
    monkeypatch.setenv("PERSONA_STUDIO_THREADS", "3")
    assert default_threads() == 3
    applied: list[int] = []
    single = ThreadGovernor(1, applied.append)
    single.observe(5.0)
    assert not single.governs and applied == []


def test_the_usual_speed_rises_at_once_and_sinks_slowly():
    record = SpeedRecord()
    assert record.job_done(70.0) == 70.0
    assert record.job_done(80.0) == 80.0
    assert record.job_done(8.0) == pytest.approx(76.4)  # a busy run barely lowers the bar


def test_the_slow_watch_warns_once_after_a_few_seconds():
    clock = Clock()
    watch = SlowWatch(80.0, clock=clock)
    assert not watch.sample(75.0)
    assert not watch.sample(10.0)  # slow starts now
    clock.now += SLOW_FOR_S / 2
    assert not watch.sample(9.0)
    clock.now += SLOW_FOR_S
    assert watch.sample(9.0)
    assert not watch.sample(9.0)  # said once
    assert watch.job_rate() == 9.0
    assert not SlowWatch(None).sample(1.0)  # nothing known yet: nothing to compare


def test_the_message_names_the_likely_cause():
    busy = slowdown_message(3.1, 78, "SmolLM2-135M", load=9.0)
    assert busy.startswith("Generating at 3.1 tok/s, far below the 78 tok/s")
    assert "keeping the processor busy" in busy
    idle = slowdown_message(3.1, 78, "SmolLM2-135M", load=0.0)
    assert "saving power" in idle


class Load:
    """Stands for OtherCpu: what other processes use, as the test says."""

    available = True

    def __init__(self) -> None:
        self.others = 0.0

    def age(self) -> float:
        return 1.0

    def sample(self) -> float:
        return self.others


def test_the_count_follows_other_programs_load_before_a_prompt_is_evaluated():
    applied: list[int] = []
    clock, load = Clock(), Load()
    governor = ThreadGovernor(2, applied.append, clock=clock, load=load, cores=2)
    governor.before_run()
    assert governor.current == 2
    load.others = 0.3  # a browser tab: not enough to give up a thread
    governor.before_run()
    assert governor.current == 2
    load.others = 0.9  # another model, a build: one core left
    governor.before_run()
    assert governor.current == 1 and applied == [1]
    load.others = 0.4  # at the edge: stays down rather than flapping
    governor.observe(0.02)
    assert governor.current == 1
    load.others = 0.05  # gone
    governor.observe(0.02)
    assert governor.current == 2 and applied == [1, 2]


def test_other_cpu_sees_a_busy_process():
    import subprocess
    import sys
    import time

    from persona_studio.llm.threads import OtherCpu

    sampler = OtherCpu()
    if not sampler.available:
        pytest.skip("no /proc here")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        sampler.sample()
        time.sleep(0.6)
        others = sampler.sample()
    finally:
        busy.kill()
        busy.wait()
    assert others is not None and others >= 0.7
