"""The embedded backend: a GGUF model run in-process by llama.cpp (llama-cpp-python).

Two ways to generate:

- ``stream_chat``: the model's own chat template renders the messages, then our token loop
  streams the reply.
- ``continuation``: the same, but the caller controls the token sequence, so it can write
  text into the assistant's turn itself (the persona's headings) and let the model continue.
  ``Llama.generate`` reuses the KV cache for the longest common prefix, so each continuation
  only evaluates the few tokens the caller appended. This is how the pipeline guarantees the
  persona's structure at nearly full speed, where a whole-document GBNF grammar cost ~45%.

The token loop is ours rather than ``create_completion``: it does only what we need per token
(one detokenize, a stop-string check on the tail, the cancel and deadline checks), which keeps
the app within a few percent of a bare ``generate`` loop.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from persona_studio.errors import GenerationCancelled, ModelError
from persona_studio.llm import threads as threads_module
from persona_studio.llm.base import (
    CancelToken,
    ChatMessage,
    LLMBackend,
    SamplingParams,
    WordPreference,
    check_deadline,
)
from persona_studio.llm.catalog import GGUF, ModelRef
from persona_studio.llm.prefix_states import (
    MIN_GAIN_TOKENS,
    MIN_SAVED_TOKENS,
    PrefixStates,
    common_prefix,
)

# Used when a GGUF file carries no chat template: ChatML is what most small instruct models
# (SmolLM2 and Qwen among them) were trained on.
_CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_DEFAULT_N_CTX = 4096
# The chunk size of a canonical evaluation (see EmbeddedBackend.evaluate_fresh).
CANONICAL_CHUNK = 64
# Token n-grams a persona may not repeat (see no_repeat_processor).
NO_REPEAT_NGRAM = 4


# The thread count: one per core while the machine is quiet, one while it is busy
# (see llm/threads.py for why and how it is decided).
THREADS_ENV = threads_module.THREADS_ENV
default_threads = threads_module.default_threads


class Continuation:
    """One run of the token loop over a token sequence; iterate it for text pieces.

    After iteration: ``tokens`` holds the generated tokens whose text is kept (everything
    before a stop string), ``leftover`` any kept text that belongs to a token cut by the stop
    string, ``text`` the kept text, ``finish_reason`` "stop", "eog" or "length", and
    ``n_generated`` how many tokens the model produced.
    """

    def __init__(
        self,
        backend: EmbeddedBackend,
        tokens: Sequence[int],
        params: SamplingParams,
        *,
        cancel: CancelToken | None,
        deadline: float | None,
        min_tokens: int = 0,
        stop_patterns: tuple[re.Pattern[str], ...] = (),
        what: str = "Generation",
        no_repeat_from: int | None = None,
        prefer: WordPreference | None = None,
        keep_cached: int | None = None,
    ) -> None:
        self._backend = backend
        self._no_repeat_from = no_repeat_from
        self._prefer = prefer
        self._keep_cached = keep_cached
        self._patterns = stop_patterns
        self._prompt = list(tokens)
        self._params = params
        self._cancel = cancel
        self._deadline = deadline
        self._min_tokens = min_tokens
        self._what = what
        self.tokens: list[int] = []
        self.text = ""
        self.leftover = ""
        self.finish_reason = ""
        self.n_generated = 0

    def __iter__(self) -> Iterator[str]:
        backend = self._backend
        llm = backend.llama
        params = self._params
        stops = tuple(s for s in params.stop if s)
        longest_stop = max((len(s) for s in stops), default=0)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        emitted = 0
        token_ends: list[int] = []
        generated: list[int] = []
        if params.seed is not None:
            llm.set_seed(params.seed)
        processors = []
        if self._min_tokens:
            processors.append(backend.early_ban_processor(self._min_tokens))
        if self._no_repeat_from is not None:
            processors.append(backend.no_repeat_processor(self._no_repeat_from))
        if self._prefer is not None and self._prefer.words:
            processors.append(backend.preference_processor(self._prefer))
        processor = _processor_list(processors)
        finish = "length"
        stop_at: int | None = None
        if params.max_tokens <= 0:
            self.finish_reason = finish
            return
        if self._keep_cached is None:
            backend.resume_from_saved(self._prompt)
        else:
            # The caller has just put the canonical start in the cache (evaluate_fresh or
            # prefill, which restore a saved state themselves); nothing better is saved.
            # Reuse at most this much of the cache: what lies beyond it was computed in a
            # batch with other tokens, and greedy answers must not depend on that.
            llm.n_tokens = min(llm.n_tokens, self._keep_cached)
        governor = backend.governor
        if governor is not None:
            governor.before_run()
        # When llama.cpp was last asked for a token; None before the first, whose time is
        # the prompt's evaluation, not one token's.
        asked: float | None = None
        for token in llm.generate(
            self._prompt,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
            logits_processor=processor,
        ):
            if governor is not None and asked is not None:
                # Only llama.cpp's own time for this token: the consumer's time (the
                # pipeline, the GUI) is spent in the yield below, outside this span.
                governor.observe(time.perf_counter() - asked)
            if token in backend.eog_tokens:
                finish = "eog"
                break
            generated.append(token)
            previous_length = len(text)
            text += decoder.decode(llm.detokenize([token]))
            token_ends.append(len(text))
            if stops or self._patterns:
                window_start = max(0, emitted - longest_stop)
                hits = [p for p in (text.find(s, window_start) for s in stops) if p >= 0]
                for pattern in self._patterns:
                    # Patterns may need a character after their match (a lookahead), so
                    # search from just before this token's text.
                    match = pattern.search(text, max(0, previous_length - 1))
                    if match:
                        hits.append(match.start())
                if hits:
                    stop_at = min(hits)
                    finish = "stop"
                    break
                hold = _partial_stop_suffix(text, stops)
            else:
                hold = 0
            if len(text) - hold > emitted:
                yield text[emitted : len(text) - hold]
                emitted = len(text) - hold
            if self._cancel is not None and self._cancel.cancelled:
                self._finish(generated, token_ends, text, None, "cancelled")
                raise GenerationCancelled()
            check_deadline(self._deadline, self._what)
            if len(generated) >= params.max_tokens:
                break
            asked = time.perf_counter()
        text += decoder.decode(b"", final=True)
        end = stop_at if stop_at is not None else len(text)
        if end > emitted:
            yield text[emitted:end]
        self._finish(generated, token_ends, text, stop_at, finish)

    def _finish(
        self,
        generated: list[int],
        token_ends: list[int],
        text: str,
        stop_at: int | None,
        finish: str,
    ) -> None:
        self.n_generated = len(generated)
        self.finish_reason = finish
        if stop_at is None:
            self.tokens = generated
            self.text = text
            return
        kept = 0
        while kept < len(token_ends) and token_ends[kept] <= stop_at:
            kept += 1
        self.tokens = generated[:kept]
        kept_end = token_ends[kept - 1] if kept else 0
        self.leftover = text[kept_end:stop_at]
        self.text = text[:stop_at]


def _processor_list(processors: list):
    if not processors:
        return None
    import llama_cpp

    return llama_cpp.LogitsProcessorList(processors)


def _partial_stop_suffix(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest tail of ``text`` that could still grow into a stop string.

    That tail is held back from the stream so the viewer never sees the start of a stop.
    """
    best = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:size]):
                best = size
                break
    return best


class EmbeddedBackend(LLMBackend):
    def __init__(
        self,
        model_path: str | Path,
        *,
        model_id: str | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        path = Path(model_path)
        self.model_path = path
        self.model_id = model_id or ModelRef(GGUF, str(path)).model_id
        if not path.is_file():
            raise ModelError(
                f"Model file not found: {path}. Pick another model or restore the file."
            )
        with path.open("rb") as handle:
            magic = handle.read(4)
        if magic != b"GGUF":
            raise ModelError(
                f"{path.name} is not a GGUF model file (it does not start with the GGUF "
                "signature). Download the model again or pick another one."
            )
        from llama_cpp import Llama

        threads = n_threads or default_threads()
        # A count the user fixed (preferences, PERSONA_STUDIO_THREADS) is kept as it is.
        governed = n_threads is None and threads_module.fixed_threads() is None
        started = time.perf_counter()
        try:
            # llama.cpp prints its load log to the C-level stderr even with verbose=False on
            # some builds; keep the terminal and the CLI's stderr for our own messages.
            with _quiet_stderr():
                self.llama = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx or _DEFAULT_N_CTX,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"Could not load {path.name}: the file is damaged or not a model this version "
                f"of llama.cpp can read ({exc}). Download it again or pick another model."
            ) from None
        self.load_seconds = time.perf_counter() - started
        self.n_threads = threads
        self.governor = (
            threads_module.ThreadGovernor(threads, self.set_threads, load=threads_module.OtherCpu())
            if governed and threads > 1
            else None
        )
        trained = int(self.llama.metadata.get(f"{self._arch()}.context_length", 0) or 0)
        self.context_length = min(self.llama.n_ctx(), trained) if trained else self.llama.n_ctx()
        self._formatter = self._make_formatter()
        self._eog: frozenset[int] | None = None
        self._banned_at_start: list[int] | None = None
        self._content_mask: list[bool] | None = None
        self._piece_masks: tuple[list[bool], list[bool]] | None = None
        # The tokens the last evaluate_fresh put in the cache (see there).
        self._canonical: list[int] = []
        self.prefix_states = PrefixStates()

    def set_threads(self, n: int) -> None:
        """Use ``n`` threads from the next token on (generation and prompt batches)."""
        import llama_cpp

        # llama-cpp-python has no public accessor for its context handle; ``_ctx.ctx`` is
        # the llama_context pointer its own calls use.
        llama_cpp.llama_set_n_threads(self.llama._ctx.ctx, n, n)

    @property
    def threads_now(self) -> int:
        return self.governor.current if self.governor is not None else self.n_threads

    # -- model facts ----------------------------------------------------------------------

    def _arch(self) -> str:
        return str(self.llama.metadata.get("general.architecture", "llama"))

    @property
    def eog_tokens(self) -> frozenset[int]:
        if self._eog is None:
            import llama_cpp

            vocab = self.llama._model.vocab
            self._eog = frozenset(
                t for t in range(self.llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)
            )
        return self._eog

    def early_ban_processor(self, min_tokens: int):
        """A logits processor that, for the first ``min_tokens`` tokens of a continuation,
        forbids ending it: end-of-generation tokens, tokens holding '#' (the start of the next
        heading) or a line break (the end of a paragraph or list item), tokens starting with a
        digit (small models open sections with "1-2 sentences" or "182 years old"), and other
        special tokens. After that it lets the model go unconstrained.

        This is the whole structure constraint on the embedded path: the pipeline writes each
        heading itself, so the model only has to be kept from leaving a section empty.
        """
        import llama_cpp
        import numpy as np

        if self._banned_at_start is None:
            model = self.llama._model
            banned = set(self.eog_tokens)
            for token in range(self.llama.n_vocab()):
                if model.token_get_attr(token) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL:
                    banned.add(token)
                else:
                    piece = self.llama.detokenize([token], special=True)
                    if b"#" in piece or b"\n" in piece or piece.strip()[:1].isdigit():
                        banned.add(token)
            self._banned_at_start = sorted(banned)
        banned_ids = np.array(self._banned_at_start, dtype=np.intc)
        first_length: list[int] = []

        def ban_early(input_ids, scores):
            # input_ids grows by one per sampled token; the first call marks the start.
            if not first_length:
                first_length.append(len(input_ids))
            if len(input_ids) - first_length[0] < min_tokens:
                scores[banned_ids] = -np.inf
            return scores

        return ban_early

    def no_repeat_processor(self, start: int, n: int = NO_REPEAT_NGRAM):
        """A logits processor that keeps the model from repeating itself: a token that would
        complete an ``n``-token sequence already present since position ``start`` (the
        document being written, not the prompt) is forbidden, if the sequence holds a word
        of four letters or more. Short glue ("- You are a", ". It is") may recur; "no matter
        how big or small" may not. The index is rebuilt from the tokens at the first call,
        so a section written again after a retry sees the document as it now is.

        Only a token that starts a word may be forbidden, never the rest of a word already
        begun: forbidding "oding" after " bro" made the model write "brooddy" and
        "sourcdough". The repeat is stopped at the next word instead."""
        import numpy as np

        content = self._content_token_mask()
        letter_start, letter_end = self._word_piece_masks()
        seen: dict[tuple[int, ...], set[int]] = {}
        indexed = [start]  # how far input_ids has been indexed

        def add(ids, upto: int) -> None:
            for end in range(max(indexed[0], start + n - 1), upto):
                gram = tuple(int(t) for t in ids[end - n + 1 : end + 1])
                if any(content[t] for t in gram):
                    seen.setdefault(gram[:-1], set()).add(gram[-1])
            indexed[0] = max(indexed[0], upto)

        def ban_repeats(input_ids, scores):
            add(input_ids, len(input_ids))
            if len(input_ids) - start >= n - 1:
                key = tuple(int(t) for t in input_ids[len(input_ids) - n + 1 :])
                banned = seen.get(key)
                if banned and letter_end[key[-1]]:
                    banned = {t for t in banned if not letter_start[t]}
                if banned:
                    scores[np.fromiter(banned, dtype=np.intc)] = -np.inf
            return scores

        return ban_repeats

    def preference_processor(self, prefer: WordPreference):
        """A logits processor nudging a continuation to write one of ``prefer.words``.

        For the first ``prefer.within`` tokens, the first token of each word (with and
        without a leading space or capital) gets ``prefer.bias``; once a word's first
        pieces have been written, its next piece gets twice that, so "sourdough" begun as
        " S" is finished as "ourdough" rather than becoming "Soccer". It stops once a
        whole word has been written."""
        import numpy as np

        spellings: set[tuple[int, ...]] = set()
        for word in prefer.words:
            for form in {word, word[:1].upper() + word[1:], word.lower()}:
                for text in (f" {form}", form):
                    pieces = tuple(self.tokenize_text(text))
                    if pieces:
                        spellings.add(pieces)
        first = np.array(sorted({pieces[0] for pieces in spellings}), dtype=np.intc)
        state = {"start": -1, "done": False}

        def prefer_words(input_ids, scores):
            if state["start"] < 0:
                state["start"] = len(input_ids)
            if state["done"]:
                return scores
            written = [int(token) for token in input_ids[state["start"] :]]
            following: set[int] = set()
            for pieces in spellings:
                for k in range(min(len(pieces), len(written)), 0, -1):
                    if written[-k:] == list(pieces[:k]):
                        if k == len(pieces):
                            state["done"] = True
                            return scores
                        following.add(pieces[k])
                        break
            if following:
                scores[np.array(sorted(following), dtype=np.intc)] += 2 * prefer.bias
            elif len(written) < prefer.within:
                scores[first] += prefer.bias
            return scores

        return prefer_words

    def _content_token_mask(self) -> list[bool]:
        """Per token: does its text hold a run of four letters (a word that means something)?"""
        if self._content_mask is None:
            pattern = re.compile(rb"[A-Za-z]{4}|[\x80-\xff]{6}")
            self._content_mask = [
                bool(pattern.search(self.llama.detokenize([t], special=True)))
                for t in range(self.llama.n_vocab())
            ]
        return self._content_mask

    # -- prompts --------------------------------------------------------------------------

    def _word_piece_masks(self) -> tuple[list[bool], list[bool]]:
        """Per token: does its text start with a letter, and does it end with one? A token
        starting with a letter after one ending with a letter goes on the same word ("bro" +
        "oding"): the tokenizer puts a word's space in front of its first piece. A byte of a
        multi-byte character counts as a letter, so no character is ever cut in two."""
        if self._piece_masks is None:
            pieces = [self.llama.detokenize([t], special=True) for t in range(self.llama.n_vocab())]

            def letter(byte: bytes) -> bool:
                return byte >= b"\x80" or byte.isalpha()

            self._piece_masks = (
                [bool(piece) and letter(piece[:1]) for piece in pieces],
                [bool(piece) and letter(piece[-1:]) for piece in pieces],
            )
        return self._piece_masks

    def _make_formatter(self):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llama.metadata.get("tokenizer.chat_template") or _CHATML_TEMPLATE

        def token_text(key: str) -> str:
            token_id = self.llama.metadata.get(key)
            if token_id is None:
                return ""
            return self.llama.detokenize([int(token_id)], special=True).decode(
                "utf-8", errors="replace"
            )

        return Jinja2ChatFormatter(
            template=template,
            eos_token=token_text("tokenizer.ggml.eos_token_id"),
            bos_token=token_text("tokenizer.ggml.bos_token_id"),
            add_generation_prompt=True,
        )

    def chat_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Tokens of ``messages`` rendered by the model's chat template, ending where the
        assistant's reply begins."""
        rendered = self._formatter(messages=[dict(m) for m in messages])
        return self.llama.tokenize(
            rendered.prompt.encode("utf-8"),
            add_bos=not rendered.added_special and bool(self.llama._model.add_bos_token()),
            special=True,
        )

    def tokenize_text(self, text: str) -> list[int]:
        """Tokens of plain text appended inside a turn (no BOS, special tokens not parsed, so
        a user's '<|im_end|>' stays text)."""
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize_text(text)) if text else 0

    # -- generation -----------------------------------------------------------------------

    def continuation(
        self,
        tokens: Sequence[int],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
        min_tokens: int = 0,
        stop_patterns: tuple[re.Pattern[str], ...] = (),
        what: str = "Generation",
        no_repeat_from: int | None = None,
        prefer: WordPreference | None = None,
        keep_cached: int | None = None,
    ) -> Continuation:
        room = self.llama.n_ctx() - len(tokens)
        if room < 8:
            raise ModelError(
                f"The prompt ({len(tokens)} tokens) does not fit the model's context window "
                f"({self.llama.n_ctx()} tokens). Shorten the description or pick a model with "
                "a larger context."
            )
        if params.max_tokens > room:
            params = replace(params, max_tokens=room)
        return Continuation(
            self,
            tokens,
            params,
            cancel=cancel,
            deadline=deadline,
            min_tokens=min_tokens,
            stop_patterns=stop_patterns,
            what=what,
            no_repeat_from=no_repeat_from,
            prefer=prefer,
            keep_cached=keep_cached,
        )

    def evaluate_fresh(self, tokens: Sequence[int]) -> None:
        """Put exactly ``tokens`` in the KV cache, computed the canonical way: in chunks of
        ``CANONICAL_CHUNK`` tokens from position 0. Continuations that start with them and
        pass ``keep_cached=len(tokens)`` then compute from the same state every time, which
        is how the persona check gets the same greedy answers on every run.

        Because each chunk's result depends only on the tokens up to it, the chunks a
        previous canonical evaluation already computed for the same leading tokens are
        kept: a persona checked again after one section was rewritten is evaluated from
        that section on, not from the start (prompt tokens cost half a generated one)."""
        tokens = list(tokens)
        llama = self.llama
        self.resume_from_saved(tokens, canonical=True)
        reuse = (self._canonical_common(tokens) // CANONICAL_CHUNK) * CANONICAL_CHUNK
        if reuse == 0:
            llama.reset()
        else:
            llama.n_tokens = reuse
        for start in range(reuse, len(tokens), CANONICAL_CHUNK):
            llama.eval(tokens[start : start + CANONICAL_CHUNK])
        self._canonical = tokens

    def resume_from_saved(self, tokens: Sequence[int], *, canonical: bool = False) -> None:
        """Before evaluating ``tokens``: keep the cache's state when it is about to lose a
        long stretch of it, and restore a saved state that holds more of their beginning
        than the cache does (llm/prefix_states.py). With ``canonical``, only the parts
        computed the canonical way count (see ``evaluate_fresh``)."""
        llama = self.llama
        live = [int(t) for t in llama._input_ids[: llama.n_tokens]]
        common = common_prefix(live, tokens)
        if canonical:
            usable_now = (self._canonical_common(tokens) // CANONICAL_CHUNK) * CANONICAL_CHUNK
        else:
            usable_now = common
        states = self.prefix_states
        entry, usable = states.best(tokens, canonical_chunk=CANONICAL_CHUNK if canonical else 0)
        restore = usable >= usable_now + MIN_GAIN_TOKENS
        if restore:
            states.touch(entry)  # so that keeping the cache's state cannot push it out
        if restore or len(live) - common >= MIN_SAVED_TOKENS:
            states.save(llama._ctx.ctx, live, self._canonical_held(live))
        if not restore:
            return
        if not states.restore(llama._ctx.ctx, entry):
            llama.reset()
            self._canonical = []
            return
        llama.n_tokens = len(entry.tokens)
        llama._input_ids[: len(entry.tokens)] = entry.tokens
        # The logits are not part of the saved state: the next token is evaluated anew.
        llama._requires_eval = True
        self._canonical = entry.tokens[: entry.canonical]
        states.spared_tokens += usable - usable_now

    def _canonical_held(self, live: Sequence[int]) -> int:
        """How many leading tokens of the cache (``live``) were computed the canonical way."""
        previous = self._canonical
        if previous and len(previous) <= len(live) and list(live[: len(previous)]) == previous:
            return len(previous)
        return 0

    def _canonical_common(self, tokens: Sequence[int]) -> int:
        """How many leading ``tokens`` the last canonical evaluation put in the cache and the
        cache still holds (0 when other work has replaced them since)."""
        previous = self._canonical
        if not previous or list(self.llama._input_ids[: len(previous)]) != previous:
            return 0
        common = 0
        for a, b in zip(previous, tokens, strict=False):
            if a != b:
                break
            common += 1
        return common

    def prefill(
        self, tokens: Sequence[int], *, should_stop: Callable[[], bool] | None = None
    ) -> int:
        """Have ``tokens`` in the KV cache ahead of a continuation that starts with them (and
        passes ``keep_cached=len(tokens)``), evaluating only what the cache does not hold of
        them already; returns how many tokens it evaluated (0: all were there).

        They are computed as ``evaluate_fresh`` computes (chunks of ``CANONICAL_CHUNK`` from
        position 0, with the same record of what the cache holds), so what follows them
        computes the same whether they were evaluated now, ahead of time, or partly by
        earlier work. Beyond the chunks ``evaluate_fresh`` reuses, the same tokens again are
        reused whole (their last, short chunk was computed the same way). ``should_stop`` is
        asked before each chunk: when it says so, the prefill stops there, the chunks done
        stay in the cache for next time, and nothing is evaluated if it stops at once."""
        tokens = list(tokens)
        llama = self.llama
        if len(tokens) > llama.n_ctx() - 8:
            raise ModelError(
                f"The prompt ({len(tokens)} tokens) does not fit the model's context window "
                f"({llama.n_ctx()} tokens). Shorten the persona or pick a model with a larger "
                "context."
            )
        self.resume_from_saved(tokens, canonical=True)
        previous = self._canonical
        common = self._canonical_common(tokens)
        if common == len(tokens) == len(previous):
            return 0
        done = (common // CANONICAL_CHUNK) * CANONICAL_CHUNK
        if done == len(tokens):
            self._canonical = tokens
            return 0
        if should_stop is not None and should_stop():
            return 0
        if self.governor is not None:
            self.governor.before_run()
        if done == 0:
            llama.reset()
        else:
            llama.n_tokens = done
        start = done
        while start < len(tokens):
            if start > done and should_stop is not None and should_stop():
                break
            llama.eval(tokens[start : start + CANONICAL_CHUNK])
            start = min(start + CANONICAL_CHUNK, len(tokens))
            self._canonical = tokens[:start]
        return start - done

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams,
        *,
        cancel: CancelToken | None = None,
        deadline: float | None = None,
    ) -> Iterator[str]:
        yield from self.continuation(
            self.chat_tokens(messages), params, cancel=cancel, deadline=deadline
        )

    def close(self) -> None:
        states = getattr(self, "prefix_states", None)
        if states is not None:
            states.clear()  # their memory goes with the model's
        llama = getattr(self, "llama", None)
        if llama is not None:
            llama.close()
            del self.llama  # a second close() finds none


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the C library's writes to fd 2 while a model loads."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(fd, 2)
    finally:
        os.close(fd)
