"""Agentless endpoints over SSH (paramiko): pooled, host-key-pinned connections.

pool.py keeps one verified, authenticated connection per target; shell.py runs argument
lists on it; transport.py is the RemoteTransport that runs catalogue actions with them.
"""

from controller.transports.ssh.pool import SshPool
from controller.transports.ssh.shell import SshShell
from controller.transports.ssh.transport import SshTransport

__all__ = ["SshPool", "SshShell", "SshTransport"]
