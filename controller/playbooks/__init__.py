"""Playbooks: YAML steps of checks and actions, run on an endpoint through the runs machinery."""
