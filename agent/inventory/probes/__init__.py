"""OS-specific probes: a command (or file) to read, plus a pure parser for its text.

Parsers take the raw text a probe produced and return plain data; they never
touch the system, so tests can feed them recorded outputs from any OS.
"""
