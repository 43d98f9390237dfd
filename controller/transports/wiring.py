"""The agentless transports this controller offers, built once at start."""

from __future__ import annotations

from controller.settings import Settings
from controller.transports import posix
from controller.transports.base import RemoteTransport
from controller.transports.credentials import Vault
from controller.transports.posix.inventory import collect
from controller.transports.remote import Remote
from controller.transports.ssh import SshTransport
from controller.transports.winrm import WinrmTransport


def build_remote(settings: Settings) -> Remote:
    key = settings.credentials_key.get_secret_value() if settings.credentials_key else None
    transports: dict[str, RemoteTransport] = {
        # A fan-out's actions mostly wait on the network: one thread each, up to 128.
        "ssh": SshTransport(posix.ACTIONS, collect, max_actions=128),
        "winrm": WinrmTransport(),
    }
    return Remote(transports, Vault.open(settings.data_dir, key))
