"""How many threads llama.cpp uses, and how fast this machine usually generates.

Why threads need watching: llama.cpp's threads meet at a barrier after every operation of
every token and spin there until all have arrived. With as many threads as cores, one other
busy process is enough for the scheduler to park one of them for a whole time slice while the
others spin: measured on a 2-core machine, 2 threads fell from 78 to about 1.5 tokens/s next
to another llama.cpp process, where 1 thread still made about 39 (bench/contention.py). Quiet,
though, 2 threads are clearly faster than 1. So the thread count follows the machine:

``ThreadGovernor`` uses one thread per core (as llama.cpp likes it on a quiet machine) and
leaves the cores other programs are using to them, from two signals:

1. What other processes use (Linux: ``/proc/stat`` less this process's own time), sampled
   before each run of the token loop (so a long prompt is not evaluated with threads that
   will collapse) and every half second while it runs: the count becomes the cores left
   over, rounded (2 cores, another program using 0.6 of one: 1 thread), and goes back up
   once they are free again.
2. The time each generated token takes, where that figure is not available (other systems)
   or misses a cause: a token far slower than the fastest ones at that count means the
   threads are parked at the barrier; it drops to one thread, then probes the full count
   for two tokens now and then (after 2 s, 4, 8, ... up to 30 s of generation while the
   probes fail) and goes back as soon as it is faster again.

``SpeedRecord`` and ``slowdown_message`` are for the window's status bar: what this machine
usually does with a model, and what probably slowed it down when it does far less.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

THREADS_ENV = "PERSONA_STUDIO_THREADS"

# A token this many times slower than the fastest recent ones at the same thread count means
# a collapse (threads parked at the barrier), not noise: noise on a quiet machine stays under
# 1.5x, a collapse 3.5x (a busy loop next to 2 threads on 2 cores) to 100x.
COLLAPSE_FACTOR = 2.5
# The fastest token seen may be forgotten by this much per token: a token costs more as
# the context grows (twice as much at 4,096 tokens for a 135M model), which is not a
# collapse; a collapse shows within WINDOW tokens, long before this adds up.
DRIFT = 1.01
# Tokens looked at together before deciding: one slow token can be a page fault.
WINDOW = 3
PROBE_TOKENS = 2
FIRST_PROBE_S = 2.0
MAX_PROBE_INTERVAL_S = 30.0
# A probe wins back the full count if its token is at least this much faster than one thread.
PROBE_MARGIN = 0.9


def default_threads() -> int:
    """One thread per core (one core left free on machines with more than 4).
    ``PERSONA_STUDIO_THREADS`` overrides it: a fixed count, not governed."""
    override = fixed_threads()
    if override is not None:
        return override
    cores = os.cpu_count() or 2
    return cores if cores <= 4 else cores - 1


def fixed_threads() -> int | None:
    override = os.environ.get(THREADS_ENV, "").strip()
    if override.isdigit() and int(override) > 0:
        return int(override)
    return None


class OtherCpu:
    """Cores' worth of processor time used by other processes since the last sample: the
    machine's busy time (``/proc/stat``: user, nice, system, irq, softirq and steal, the
    time a hypervisor gave to other machines) less this process's own. None where there is
    no ``/proc`` (macOS, Windows): the governor then goes by token times alone."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last: tuple[float, int, int, int] | None = None
        self.available = os.path.exists("/proc/stat") and os.path.exists("/proc/self/stat")
        self._cores = os.cpu_count() or 1

    @staticmethod
    def _read() -> tuple[int, int, int]:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(x) for x in handle.readline().split()[1:9]]
        user, nice, system, idle, iowait, irq, softirq, steal = fields
        busy = user + nice + system + irq + softirq + steal
        with open("/proc/self/stat", encoding="ascii") as handle:
            after_name = handle.read().rsplit(")", 1)[1].split()
        own = int(after_name[11]) + int(after_name[12])  # utime, stime
        return busy, busy + idle + iowait, own

    def age(self) -> float:
        return float("inf") if self._last is None else self.clock() - self._last[0]

    def sample(self) -> float | None:
        """Others' use since the previous sample, in cores; None for the first sample."""
        if not self.available:
            return None
        try:
            busy, total, own = self._read()
        except (OSError, ValueError, IndexError):
            self.available = False
            return None
        now = self.clock()
        last, self._last = self._last, (now, busy, total, own)
        if last is None or total <= last[2]:
            return None
        others = (busy - last[1]) - (own - last[3])
        return max(0.0, others / (total - last[2]) * self._cores)


# The processor must be this quiet (cores used by others) before the full count comes back:
# a little less room than it takes to drop, so that a load at the edge does not flap.
RISE_MARGIN = 0.2
# How long a load sample spans, at the least: /proc/stat counts in hundredths of a second.
LOAD_SAMPLE_S = 0.5
# Before a run, after an idle time longer than this, the load is measured afresh (for this
# long) rather than averaged over the idle time.
STALE_LOAD_S = 2.0
FRESH_LOAD_S = 0.1


@dataclass
class ThreadGovernor:
    """Decides the thread count token by token; ``apply(n)`` sets it in llama.cpp.

    ``observe(seconds)`` is called with the time llama.cpp took for each generated token
    (one-token evaluations, not prompt batches)."""

    full: int
    apply: Callable[[int], None]
    clock: Callable[[], float] = time.monotonic
    load: OtherCpu | None = None
    sleep: Callable[[float], None] = time.sleep
    current: int = 0
    switches: int = 0
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    _by_load: bool = False  # the count was lowered for other programs' load
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    _fastest: dict[int, float] = field(default_factory=dict)
    _probing: int = 0  # tokens left in the running probe
    _probe_times: list[float] = field(default_factory=list)
    _single_recent: deque[float] = field(default_factory=lambda: deque(maxlen=8))
    _next_probe: float = 0.0
    _interval: float = FIRST_PROBE_S

    def __post_init__(self) -> None:
        self.full = max(1, self.full)
        self.current = self.current or self.full

    @property
    def governs(self) -> bool:
        return self.full > 1

    def before_run(self) -> None:
        """Before llama.cpp evaluates a prompt: the count for the load as it is now."""
        if not self.governs or self.load is None or not self.load.available:
            return
        if self.load.age() > STALE_LOAD_S:
            self.load.sample()  # start a short, fresh measurement
            self.sleep(FRESH_LOAD_S)
        self._follow_load()

    def _follow_load(self) -> None:
        assert self.load is not None
        others = self.load.sample()
        if others is None or self._probing:
            return
        room = self.cores - others
        if self.current > 1 and int(room + 0.5) < self.current:
            self._set(max(1, int(room + 0.5)))
            self._by_load = True
        elif self._by_load and self.current < self.full:
            rise = min(self.full, max(1, int(room + 0.5 - RISE_MARGIN)))
            if rise > self.current:
                self._set(rise)
                self._by_load = rise < self.full

    def observe(self, seconds: float) -> None:
        if not self.governs or seconds <= 0:
            return
        if self.load is not None and self.load.available and self.load.age() >= LOAD_SAMPLE_S:
            self._follow_load()
        if self._probing:
            self._probe_times.append(seconds)
            self._probing -= 1
            if not self._probing:
                self._end_probe()
            return
        n = self.current
        self._recent.append(seconds)
        if n == 1:
            self._single_recent.append(seconds)
        fastest = self._fastest.get(n)
        self._fastest[n] = seconds if fastest is None else min(fastest * DRIFT, seconds)
        if n > 1 and len(self._recent) == WINDOW:
            typical = statistics.median(self._recent)
            if typical > COLLAPSE_FACTOR * self._fastest[n]:
                self._set(1)
                self._by_load = False
                self._interval = FIRST_PROBE_S
                self._next_probe = self.clock() + self._interval
                return
        if (
            n == 1
            and not self._by_load
            and self.clock() >= self._next_probe
            and self._single_recent
        ):
            self._probing = PROBE_TOKENS
            self._probe_times = []
            self._set(self.full)

    def _end_probe(self) -> None:
        # The first token after a change may pay for it; the last one is the measure.
        probe = self._probe_times[-1]
        single = statistics.median(self._single_recent)
        if probe < PROBE_MARGIN * single:
            self._recent.clear()
            self._fastest[self.full] = min(self._fastest.get(self.full, probe), probe)
            self._interval = FIRST_PROBE_S
            return  # stays at the full count
        self._set(1)
        self._interval = min(MAX_PROBE_INTERVAL_S, self._interval * 2)
        self._next_probe = self.clock() + self._interval

    def _set(self, n: int) -> None:
        if n != self.current:
            self.current = n
            self.switches += 1
            self._recent.clear()
            self.apply(n)


# -- the usual speed, for the status bar ---------------------------------------------------


# The live rate counts as "far below" under this share of the usual one...
SLOW_SHARE = 0.5
# ...for at least this long (a model's first tokens, or a long prompt, are slower anyway).
SLOW_FOR_S = 4.0


class SpeedRecord:
    """What this machine usually does with a model, in tokens/s: the best recent jobs' rate.
    It rises at once to a faster job and sinks slowly (5% of the gap per job), so jobs run on a
    busy machine do not lower the bar much."""

    def __init__(self, usual: float | None = None) -> None:
        self.usual = usual if usual and usual > 0 else None

    def job_done(self, tokens_per_s: float) -> float | None:
        if tokens_per_s <= 0:
            return self.usual
        if self.usual is None or tokens_per_s > self.usual:
            self.usual = tokens_per_s
        else:
            self.usual = 0.95 * self.usual + 0.05 * tokens_per_s
        return self.usual


class SlowWatch:
    """Feeds on the live rate of a running job; says when it has stayed far below the usual
    rate for a few seconds (once per job)."""

    def __init__(self, usual: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.usual = usual
        self.clock = clock
        self._slow_since: float | None = None
        self.warned = False
        self.rates: list[float] = []

    def sample(self, rate: float) -> bool:
        """True once, when the job has been slow long enough to say so."""
        if rate > 0:
            self.rates.append(rate)
        if self.warned or not self.usual or rate <= 0:
            return False
        if rate >= SLOW_SHARE * self.usual:
            self._slow_since = None
            return False
        now = self.clock()
        if self._slow_since is None:
            self._slow_since = now
            return False
        if now - self._slow_since >= SLOW_FOR_S:
            self.warned = True
            return True
        return False

    def job_rate(self) -> float:
        """The job's typical rate (the median of what was seen): what SpeedRecord learns."""
        return statistics.median(self.rates) if self.rates else 0.0


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None  # Windows


def slowdown_message(rate: float, usual: float, model: str, load: float | None) -> str:
    """ "Generating at 3.1 tok/s, far below the 78 tok/s this machine usually makes with
    SmolLM2: ..." with the likely cause."""
    cores = os.cpu_count() or 1
    head = (
        f"Generating at {rate:.1f} tok/s, far below the {usual:.0f} tok/s this machine "
        f"usually makes with {model}"
    )
    if load is not None and load > cores - 0.5:
        cause = (
            f"other programs are keeping the processor busy (load {load:.1f} on {cores} "
            "cores: another model, a build, a video call?). Persona Studio drops to one "
            "thread while that lasts; closing the busy program brings the speed back."
        )
    elif load is not None:
        cause = (
            "the processor is not busy, so the machine may be saving power (on battery?) "
            "or short of memory; plugging in or closing programs may help."
        )
    else:
        cause = (
            "another program is probably using the processor (Task Manager shows which); "
            "Persona Studio drops to one thread while that lasts."
        )
    return f"{head}: {cause}"
