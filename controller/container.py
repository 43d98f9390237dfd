"""Everything a running controller holds, built once at start and shared by the edges."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from controller.access.authn import ensure_first_admin
from controller.automation.fixer import playbook_fixer
from controller.automation.loop import Loop
from controller.checks.hub import CheckHub
from controller.errors import ConfigError
from controller.fleet.presence import Presence
from controller.pki import CertificateAuthority
from controller.playbooks.engine import Engine as PlaybookEngine
from controller.playbooks.loader import Library, PlaybookError
from controller.runs.dispatch import Dispatcher
from controller.runs.output import OutputHub, run_owner
from controller.settings import Settings
from controller.storage import migrate
from controller.storage.db import SessionFactory, create_engine, session_factory
from controller.transports.remote import Remote
from controller.transports.runs import RemoteRuns
from controller.transports.wiring import build_remote

log = logging.getLogger(__name__)


@dataclass
class Controller:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    ca: CertificateAuthority
    presence: Presence
    dispatcher: Dispatcher
    run_output: OutputHub  # live output of runs whose agents are connected here
    # Where agents dial, once the gRPC port is bound (port 0 picks one).
    agent_address: str = ""
    enroll_address: str = ""
    # The playbook library (validated at start) and the engine that plays it.
    playbooks: PlaybookEngine | None = None
    # Health checks: results in, check sets out (controller/checks/hub.py).
    checks: CheckHub = field(init=False)
    # Failing checks into tickets and fixes (controller/automation/loop.py).
    loop: Loop = field(init=False)
    # Agentless endpoints: the ssh and winrm transports, and the runs executed through them.
    remote: Remote | None = None
    remote_runs: RemoteRuns | None = None

    def __post_init__(self) -> None:
        self.checks = CheckHub(self.sessions, self.presence)
        fixer = playbook_fixer(self.playbooks) if self.playbooks is not None else None
        self.loop = Loop(self.sessions, fixer)
        self.checks.on_change = self.loop.on_change

    def enroll_command(self, token: str, ca_hash: str) -> str:
        """The command that enrols an agent; --enroll-address only where the default is wrong."""
        command = (
            f"deskside-agent enroll --controller {self.agent_address} "
            f"--token {token} --ca-hash {ca_hash}"
        )
        host, _, port = self.agent_address.rpartition(":")
        if self.enroll_address != f"{host}:{int(port) + 1}":
            command += f" --enroll-address {self.enroll_address}"
        return command

    @property
    def online_window(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.heartbeat_interval_s)

    async def close(self) -> None:
        if self.remote_runs is not None:
            await self.remote_runs.aclose()
        if self.remote is not None:
            await self.remote.aclose()
        await self.engine.dispose()


async def build_controller(settings: Settings) -> Controller:
    """Open the database (migrated to the newest schema), the CA and the first admin."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        library = Library.load()  # a broken shipped playbook stops the start, saying where
    except PlaybookError as exc:
        raise ConfigError(f"playbooks: {exc}") from None
    engine = create_engine(settings.resolved_database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    ca = CertificateAuthority(settings.data_dir / "pki")
    bootstrap = settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else None
    async with sessions() as session:
        created = await ensure_first_admin(session, bootstrap)
    if created:
        # Shown once, like every secret: it is stored only as a hash.
        log.warning("first start: the admin's API token is %s (shown once)", created)
    # Heartbeats come every half window; flushing each quarter keeps last_seen fresh.
    presence = Presence(sessions, flush_interval_s=settings.heartbeat_interval_s / 4)
    dispatcher = Dispatcher(sessions, presence)
    playbooks = PlaybookEngine(sessions, dispatcher, library)
    await playbooks.interrupt_left_running()
    remote = build_remote(settings)
    remote_runs = RemoteRuns(sessions, remote, dispatcher.ended)
    await remote_runs.interrupt_left_running()
    await remote_runs.refresh()
    dispatcher.remote = remote_runs
    return Controller(
        settings,
        engine,
        sessions,
        ca,
        presence,
        dispatcher,
        OutputHub(run_owner(sessions)),
        playbooks=playbooks,
        remote=remote,
        remote_runs=remote_runs,
    )
