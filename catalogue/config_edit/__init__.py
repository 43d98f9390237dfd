"""config.set's editing, shared by the agent and the agentless transports.

formats edits one key in a file's text (lines: INI and key=value; structured: JSON, YAML,
TOML); outcome turns the bytes before and after into the action's result, evidence and
backup record. Each caller only reads and writes the file its own way.
"""
