"""The floor every layer may import: plain data and rules with no I/O and no Qt.

What lives here is knowledge that several layers need and that must be written once: the
persona document (its headings and FORLLM's preamble), the generation request as stored
(one lenient reader for labels, hints and options), and the typed events of a job."""
