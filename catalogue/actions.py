"""Every action's parameters and spec. Parameter names are an interface: scripts rely on them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalogue.fields import (
    AbsolutePath,
    AccountName,
    Host,
    HostPort,
    Port,
    ProcessName,
    SafeText,
    ServiceName,
    Timeout,
)
from catalogue.spec import ActionSpec, Risk
from protos.deskside.v1 import INVENTORY_SECTIONS


class Params(BaseModel):
    # A misspelt parameter is an error, not a silently ignored one.
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    pass


class InventoryCollect(Params):
    sections: list[str] | None = Field(default=None, description=", ".join(INVENTORY_SECTIONS))

    @field_validator("sections")
    @classmethod
    def _known(cls, sections: list[str] | None) -> list[str] | None:
        unknown = sorted(set(sections or ()) - set(INVENTORY_SECTIONS))
        if unknown:
            raise ValueError(
                f"unknown section {unknown[0]!r}; one of {', '.join(INVENTORY_SECTIONS)}"
            )
        return sections


class ProcessList(Params):
    sort: Literal["cpu", "memory"] = "cpu"
    limit: int = Field(default=25, ge=1, le=1000)
    name: ProcessName | None = None


class ServiceParams(Params):
    name: ServiceName


class NetPing(Params):
    host: Host
    count: int = Field(default=3, ge=1, le=20)
    timeout_s: Timeout = 5


class NetTcpCheck(Params):
    host: Host
    port: Port
    timeout_s: Timeout = 5


class NetDnsResolve(Params):
    name: Host
    record_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "PTR", "SRV"] = "A"
    server: Host | None = None


class NetHttpCheck(Params):
    url: str = Field(max_length=2048, pattern=r"^https?://[^\s\x00]+$")
    expect_status: int | None = Field(default=None, ge=100, le=599)
    timeout_s: Timeout = 10


class DiskUsage(Params):
    path: AbsolutePath = "/"
    depth: int = Field(default=2, ge=1, le=6)
    top: int = Field(default=20, ge=1, le=200)


class LogTail(Params):
    path: AbsolutePath
    lines: int = Field(default=200, ge=1, le=10000)
    grep: SafeText | None = Field(default=None, description="keep only lines containing this text")


class FileStat(Params):
    path: AbsolutePath
    hash: Literal["sha256", "none"] = "sha256"


class CertCheck(Params):
    path: AbsolutePath | None = None
    host: Host | None = None
    port: Port = 443

    @model_validator(mode="after")
    def _one_source(self) -> CertCheck:
        if (self.path is None) == (self.host is None):
            raise ValueError("give either path (a PEM file) or host (a TLS endpoint)")
        return self


class TimeParams(Params):
    server: HostPort | None = Field(
        default=None, description="NTP server, host or host:port; default: the controller's clock"
    )


class ProcessKill(Params):
    pid: int | None = Field(default=None, ge=2, le=2**22)
    name: ProcessName | None = None
    signal: Literal["TERM", "KILL", "INT", "HUP", "QUIT"] = "TERM"

    @model_validator(mode="after")
    def _one_target(self) -> ProcessKill:
        if (self.pid is None) == (self.name is None):
            raise ValueError("give either pid or name")
        return self


class DiskCleanup(Params):
    paths: list[AbsolutePath] = Field(min_length=1, max_length=20)
    older_than_s: int = Field(default=7 * 86400, ge=0, le=10 * 365 * 86400)


class ConfigSet(Params):
    path: AbsolutePath
    key: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00\n\r=]+$")
    value: str | int | float | bool | None = Field(
        description="strings may not contain NUL or newlines"
    )
    format: Literal["ini", "json", "yaml", "toml", "keyvalue"] | None = None

    @field_validator("value")
    @classmethod
    def _single_line(
        cls, value: str | int | float | bool | None
    ) -> str | int | float | bool | None:
        if isinstance(value, str) and any(c in value for c in "\x00\n\r"):
            raise ValueError("must not contain NUL bytes or line breaks")
        return value


class ConfigRollback(Params):
    rollback: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")


class HostsSet(Params):
    hostname: Host
    address: Host | None = Field(default=None, description="null: remove the entry")


class PrintClearQueue(Params):
    printer: ProcessName | None = Field(default=None, description="default: every queue")


class LogRotate(Params):
    path: AbsolutePath
    keep: int = Field(default=5, ge=1, le=100)


class UserParams(Params):
    username: AccountName


class UserResetPassword(Params):
    username: AccountName
    password: str = Field(min_length=8, max_length=256, pattern=r"^[^\x00\n\r]+$")


class SystemReboot(Params):
    delay_s: int = Field(default=60, ge=0, le=86400)
    message: SafeText = "Restarting for maintenance"


_R, _L, _M, _H = Risk.READ, Risk.LOW, Risk.MEDIUM, Risk.HIGH
SPECS = [
    ActionSpec("inventory.collect", _R, InventoryCollect, "collect the inventory now"),
    ActionSpec("process.list", _R, ProcessList, "list processes, busiest first"),
    ActionSpec("service.status", _R, ServiceParams, "is a service running"),
    ActionSpec("net.ping", _R, NetPing, "ICMP echo to a host"),
    ActionSpec("net.tcp_check", _R, NetTcpCheck, "can a TCP port be reached"),
    ActionSpec("net.dns_resolve", _R, NetDnsResolve, "resolve a name"),
    ActionSpec("net.http_check", _R, NetHttpCheck, "fetch a URL and report status and timing"),
    ActionSpec(
        "net.listening_ports", _R, NoParams, "ports this machine listens on, with the process"
    ),
    ActionSpec(
        "disk.usage", _R, DiskUsage, "largest directories under a path", path_fields=("path",)
    ),
    ActionSpec(
        "log.tail", _R, LogTail, "the end of a log file, optionally filtered", path_fields=("path",)
    ),
    ActionSpec(
        "file.stat",
        _R,
        FileStat,
        "size, mode, owner, times and hash of a file",
        path_fields=("path",),
    ),
    ActionSpec(
        "cert.check",
        _R,
        CertCheck,
        "expiry of a PEM certificate or a TLS endpoint",
        path_fields=("path",),
    ),
    ActionSpec("time.check", _R, TimeParams, "clock offset from an NTP server or the controller"),
    ActionSpec("service.start", _L, ServiceParams, "start a service", dry_run=True),
    ActionSpec("service.stop", _M, ServiceParams, "stop a service", dry_run=True),
    ActionSpec("service.restart", _M, ServiceParams, "restart a service", dry_run=True),
    ActionSpec(
        "process.kill",
        _M,
        ProcessKill,
        "signal a process (never pid 1 nor the agent)",
        dry_run=True,
    ),
    ActionSpec(
        "disk.cleanup",
        _M,
        DiskCleanup,
        "delete old files in temp/cache dirs",
        dry_run=True,
        path_fields=("paths",),
    ),
    ActionSpec(
        "config.set",
        _M,
        ConfigSet,
        "set one key in a configuration file",
        dry_run=True,
        path_fields=("path",),
    ),
    ActionSpec("config.rollback", _M, ConfigRollback, "undo a config.set", dry_run=True),
    ActionSpec("hosts.set", _M, HostsSet, "add, change or remove a hosts-file entry", dry_run=True),
    ActionSpec("dns.flush", _L, NoParams, "flush the resolver cache", dry_run=True),
    ActionSpec("time.sync", _M, TimeParams, "step the clock to an NTP server", dry_run=True),
    ActionSpec(
        "print.clear_queue", _L, PrintClearQueue, "cancel stuck print jobs (CUPS)", dry_run=True
    ),
    ActionSpec(
        "log.rotate", _M, LogRotate, "rotate a log file now", dry_run=True, path_fields=("path",)
    ),
    ActionSpec("user.unlock", _M, UserParams, "unlock a local account", dry_run=True),
    ActionSpec(
        "user.reset_password", _H, UserResetPassword, "set a local account's password", dry_run=True
    ),
    ActionSpec("system.reboot", _H, SystemReboot, "reboot the machine", dry_run=True),
]
