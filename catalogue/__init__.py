"""The action catalogue, shared by the controller and the agent (and nothing else).

One name, one parameter schema, one risk level and one result shape per action,
whichever transport runs it. Parameters are validated on the controller and again on
the agent with the same models. `catalogue.probes` holds the commands that read a machine
and the pure parsers of their output: the agent runs them locally, the controller's ssh and
winrm transports remotely, and both read the answers with the same parsers.
"""

from catalogue.registry import CATALOGUE, CatalogueError, get, validate
from catalogue.result import ActionError, ActionResult, Evidence
from catalogue.spec import ActionSpec, Risk

__all__ = [
    "CATALOGUE",
    "ActionError",
    "ActionResult",
    "ActionSpec",
    "CatalogueError",
    "Evidence",
    "Risk",
    "get",
    "validate",
]
