"""OS-specific probes: a command (or file) to read, plus a pure parser for its text.

Shared by every transport: the agent runs the commands itself (agent/inventory/runner.py),
the ssh and winrm transports run the same commands remotely.

Parsers take the raw text a probe produced and return plain data; they never
touch the system, so tests can feed them recorded outputs from any OS.
"""
