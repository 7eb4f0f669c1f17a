"""Saved KV-cache states of token prefixes: work the cache held before is restored instead
of evaluated again.

llama.cpp keeps one sequence in its cache, so a prompt that shares no beginning with the
one before is evaluated from scratch. The pipeline alternates between two such prompts: a
weak persona's sections are written again as a continuation of the refinement chat, and in
between the persona check evaluates the persona itself as a system prompt. Every rewrite
used to evaluate the refinement chat again (500-900 tokens, 2.5-4 s on two cores), and every
other version of a persona the check compares with the best one had to evaluate the best
one's shared beginning again when another version had been checked since. Restoring a
sequence's saved state takes milliseconds: it is its KV cells only (about 23 kB a token on
the default model), not the logits.

A restored state is exactly the cache as it was computed, so what follows computes as it did
then; for the persona check's canonical evaluation (see EmbeddedBackend.evaluate_fresh) only
the part that was computed the canonical way is used as such.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# A state smaller than this is cheaper to evaluate again than to keep.
MIN_SAVED_TOKENS = 128
# Restore a saved state only where it spares at least this many tokens over the cache as
# it is (about a fifth of a second on the default model here).
MIN_GAIN_TOKENS = 48
MAX_ENTRIES = 4
# All saved states together, and twice the most one state may take: four prompts of
# 1,000 tokens of the default model take about 90 MB; a 7B model's 128 kB a token allows
# one such prompt, and a longer one is not kept.
MAX_BYTES = 256 * 1024 * 1024


@dataclass
class SavedPrefix:
    """The cache's state after ``tokens``; its first ``canonical`` tokens were computed the
    canonical way (chunks from position 0)."""

    tokens: list[int]
    canonical: int
    data: bytes


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    for index in range(n):
        if a[index] != b[index]:
            return index
    return n


class PrefixStates:
    """A few saved states of the single sequence of a llama.cpp context, most recently used
    last, within ``max_entries`` and ``max_bytes``."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: list[SavedPrefix] = []
        # What restoring spared, for the benchmarks: tokens not evaluated again, restores.
        self.spared_tokens = 0
        self.restores = 0

    @property
    def bytes(self) -> int:
        return sum(len(e.data) for e in self.entries)

    def save(self, ctx: Any, tokens: Sequence[int], canonical: int) -> None:
        """Keep the state of ``ctx`` (a llama_context pointer) whose cache holds ``tokens``.
        A saved state that holds a beginning of them (and no more of it canonical) is
        replaced; one that holds them all already makes this a no-op."""
        import llama_cpp

        tokens = list(tokens)
        if len(tokens) < MIN_SAVED_TOKENS:
            return
        for entry in self.entries:
            if (
                len(entry.tokens) >= len(tokens)
                and entry.tokens[: len(tokens)] == tokens
                and entry.canonical >= min(canonical, len(tokens))
            ):
                self.touch(entry)
                return
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        if size <= 0 or size > self.max_bytes // 2:
            return
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        if written <= 0 or written > size:
            return
        self.entries = [
            e
            for e in self.entries
            if not (
                len(e.tokens) <= len(tokens)
                and tokens[: len(e.tokens)] == e.tokens
                and e.canonical <= canonical
            )
        ]
        self.entries.append(SavedPrefix(tokens, canonical, ctypes.string_at(buffer, written)))
        while len(self.entries) > self.max_entries or (
            self.bytes > self.max_bytes and len(self.entries) > 1
        ):
            self.entries.pop(0)

    def best(self, tokens: Sequence[int], *, canonical_chunk: int = 0) -> tuple[SavedPrefix, int]:
        """The saved state that holds the longest usable beginning of ``tokens``, and that
        length (0 and no state: none). With ``canonical_chunk``, only its canonical part
        counts, in whole chunks of that size."""
        found: tuple[SavedPrefix, int] | None = None
        for entry in self.entries:
            usable = common_prefix(entry.tokens, tokens)
            if canonical_chunk:
                usable = (min(usable, entry.canonical) // canonical_chunk) * canonical_chunk
            if usable and (found is None or usable > found[1]):
                found = (entry, usable)
        return found if found is not None else (SavedPrefix([], 0, b""), 0)

    def restore(self, ctx: Any, entry: SavedPrefix) -> bool:
        """Put ``entry``'s state back into ``ctx``'s sequence (what it held is dropped).
        False where llama.cpp refused it; the caller then starts from an empty cache."""
        import llama_cpp

        buffer = (ctypes.c_uint8 * len(entry.data)).from_buffer_copy(entry.data)
        read = llama_cpp.llama_state_seq_set_data(ctx, buffer, len(entry.data), 0)
        if read != len(entry.data):
            if entry in self.entries:
                self.entries.remove(entry)
            return False
        self.touch(entry)
        self.restores += 1
        return True

    def clear(self) -> None:
        """Forget every state (and the counts of what they spared)."""
        self.entries.clear()
        self.spared_tokens = self.restores = 0

    def touch(self, entry: SavedPrefix) -> None:
        """Make ``entry`` the most recently used (if a save since has not let it go)."""
        if entry in self.entries:
            self.entries.remove(entry)
            self.entries.append(entry)
