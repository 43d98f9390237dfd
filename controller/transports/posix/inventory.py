"""The inventory of a Linux endpoint over ssh, in the agent's section shapes.

The commands are the probes' (catalogue/probes), run remotely; the parsers are the same
ones the agent uses. A section that fails becomes {"error": ...}, as on the agent; a
broken connection (TransportError) ends the whole collection instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from catalogue import ActionResult
from catalogue.probes import cpuinfo, df, dpkg, linux_net, os_release, procfs, rpm, systemd, sysv
from controller.transports.base import RemoteContext
from controller.transports.errors import TransportError
from controller.transports.posix import processes, services
from protos.deskside.v1 import INVENTORY_SECTIONS

TOP_N = 10
SLOW_TIMEOUT_S = 60.0  # package queries and `service --status-all`


def _read(ctx: RemoteContext, path: str) -> str | None:
    done = ctx.run(["cat", "--", path], timeout=30)
    return done.stdout if done.returncode == 0 else None


def _exists(ctx: RemoteContext, path: str, test: str = "-e") -> bool:
    return ctx.run(["test", test, path], timeout=15).returncode == 0


class _Collector:
    def __init__(self, ctx: RemoteContext) -> None:
        self.ctx = ctx
        # The first /proc/stat reading: CPU use is measured until the cpu section's.
        self.stat = _read(ctx, procfs.STAT_PATH) or ""

    def os(self) -> dict[str, Any]:
        text = next(filter(None, (_read(self.ctx, p) for p in os_release.PATHS)), "")
        # uname prints in its own order, whatever the order of the options
        hostname, kernel, arch = self.ctx.run(["uname", "-n", "-r", "-m"]).stdout.split()[:3]
        uptime = float((_read(self.ctx, procfs.UPTIME_PATH) or "0").split()[0])
        return {
            **os_release.parse_os_identity(text),
            "family": "linux",
            "kernel": kernel,
            "arch": arch,
            "hostname": hostname,
            "boot_time": procfs.parse_boot_time(self.stat),
            "uptime_s": uptime,
        }

    def cpu(self) -> dict[str, Any]:
        text = _read(self.ctx, cpuinfo.PATH) or ""
        cores = {
            line.split(":")[1].strip() for line in text.splitlines() if line.startswith("core id")
        }
        packages = {
            line.split(":")[1].strip()
            for line in text.splitlines()
            if line.startswith("physical id")
        }
        logical = sum(1 for line in text.splitlines() if line.startswith("processor"))
        now = _read(self.ctx, procfs.STAT_PATH) or ""
        return {
            "model": cpuinfo.parse_cpu_model(text),
            "logical_cores": logical or None,
            "physical_cores": len(cores) * max(1, len(packages)) or None,
            "load_avg": procfs.parse_loadavg(_read(self.ctx, procfs.LOADAVG_PATH) or ""),
            "usage_percent": procfs.usage_percent(
                procfs.parse_cpu_times(self.stat), procfs.parse_cpu_times(now)
            ),
        }

    def memory(self) -> dict[str, Any]:
        return procfs.parse_meminfo(_read(self.ctx, procfs.MEMINFO_PATH) or "")

    def disks(self) -> dict[str, Any]:
        local = df.parse_df(self.ctx.run(df.ARGV, timeout=SLOW_TIMEOUT_S).stdout)
        remote = df.parse_remote_mounts(_read(self.ctx, df.MOUNTS_PATH) or "")
        return {"mounts": sorted(local + remote, key=lambda m: str(m["mountpoint"]))}

    def network(self) -> dict[str, Any]:
        counters = procfs.parse_net_dev(_read(self.ctx, procfs.NET_DEV_PATH) or "")
        listed = self.ctx.run(procfs.IP_ADDR_ARGV, timeout=30)
        route = _read(self.ctx, linux_net.ROUTE_PATH)
        resolv = _read(self.ctx, linux_net.RESOLV_CONF_PATH)
        return {
            "interfaces": procfs.parse_ip_addr(listed.stdout, counters),
            "default_gateway": linux_net.parse_proc_net_route(route) if route else None,
            "dns_servers": linux_net.parse_resolv_conf(resolv) if resolv else [],
        }

    def processes(self) -> dict[str, Any]:
        rows = list(processes.table(self.ctx).values())

        def shown(row: dict[str, Any]) -> dict[str, Any]:
            keys = ("pid", "name", "cpu_percent", "rss")
            return {**{k: row[k] for k in keys}, "username": row["user"]}

        by_cpu = heapq.nlargest(TOP_N, rows, key=lambda r: (r["cpu_percent"], r["rss"]))
        by_memory = heapq.nlargest(TOP_N, rows, key=lambda r: r["rss"])
        return {
            "count": len(rows),
            "top_cpu": [shown(r) for r in by_cpu],
            "top_memory": [shown(r) for r in by_memory],
        }

    def services(self) -> dict[str, Any]:
        if services.manager(self.ctx) == "systemd":
            listed = self.ctx.run(systemd.ARGV, timeout=SLOW_TIMEOUT_S)
            if listed.returncode != 0:
                return {"manager": "systemd", "items": [], "error": "systemctl failed"}
            return {"manager": "systemd", "items": systemd.parse_list_units(listed.stdout)}
        scripts = self.ctx.run(
            [
                "find",
                sysv.INIT_DIR,
                "-maxdepth",
                "1",
                "-type",
                "f",
                "-perm",
                "-u+x",
                "-printf",
                "%f\n",
            ],
            timeout=30,
        ).stdout.split()
        checked = self.ctx.run(sysv.ARGV, timeout=SLOW_TIMEOUT_S)
        if checked.returncode != 0 and not scripts:
            return {"manager": None, "items": []}
        return {
            "manager": "sysv",
            "items": sysv.merge_scripts(sysv.parse_status_all(checked.stdout), scripts),
        }

    def software(self) -> dict[str, Any]:
        if _exists(self.ctx, dpkg.DATABASE):
            listed = self.ctx.run(dpkg.ARGV, timeout=SLOW_TIMEOUT_S)
            if listed.returncode != 0:
                return {"source": "dpkg", "packages": [], "error": "dpkg-query failed"}
            return {"source": "dpkg", "packages": dpkg.parse_dpkg_query(listed.stdout)}
        if any(_exists(self.ctx, path, "-d") for path in rpm.DATABASES):
            listed = self.ctx.run(rpm.ARGV, timeout=SLOW_TIMEOUT_S)
            if listed.returncode != 0:
                return {"source": "rpm", "packages": [], "error": "rpm -qa failed"}
            return {"source": "rpm", "packages": rpm.parse_rpm_query(listed.stdout)}
        return {"source": None, "packages": []}

    def users(self) -> dict[str, Any]:
        offset = self.ctx.run(["date", "+%z"], timeout=15).stdout.strip()
        who = self.ctx.run(procfs.WHO_ARGV, timeout=30).stdout
        return {"sessions": procfs.parse_who(who, offset or "+0000")}


def collect(ctx: RemoteContext, sections: list[str] | None = None) -> dict[str, Any]:
    """{section: dict} for the sections asked for (default: all), in the agent's shapes."""
    collector = _Collector(ctx)
    found: dict[str, Any] = {}
    for name in dict.fromkeys(sections or INVENTORY_SECTIONS):
        build: Callable[[], dict[str, Any]] = getattr(collector, name)
        try:
            found[name] = build()
        except TransportError:
            raise
        except Exception as exc:  # one unreadable section must not lose the others
            found[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return found


def inventory_collect(params: Any, ctx: RemoteContext) -> ActionResult:
    data = collect(ctx, params.sections)
    lines = []
    for name, section in data.items():
        state = f"error: {section['error']}" if "error" in section else f"{len(section)} fields"
        lines.append(f"{name}: {state}")
    os_section = data.get("os") or {}
    head = f"{os_section.get('hostname') or '?'} ({os_section.get('pretty_name') or '?'})"
    return ActionResult(output="\n".join([head, *lines]), data=data)


ACTIONS = {"inventory.collect": inventory_collect}
