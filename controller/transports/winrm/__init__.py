"""The WinRM transport: catalogue actions on agentless Windows endpoints (docs/WINRM.md)."""

from controller.transports.winrm.transport import WinrmTransport

__all__ = ["WinrmTransport"]
