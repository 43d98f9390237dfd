"""Hardware and software inventory of the machine the agent runs on.

``InventoryCollector().snapshot()`` returns ``{section: dict}`` with every name
in ``SECTIONS``; all values are JSON-serialisable (str, int, float, bool, None,
lists, dicts). Conventions: sizes are bytes (int); points in time are UNIX
epoch seconds (float); durations are seconds (float) with an ``_s`` suffix;
percentages are floats from 0 to 100 (per-process CPU is relative to one CPU
and may exceed 100). A fact the platform cannot provide is None. A section
that failed is ``{"error": "ExceptionType: message"}``; a slow section whose
probe ran but gave no usable output keeps its shape and adds ``"error"``.

Section shapes::

    os:        {name, pretty_name, version, build, id, family, kernel, arch,
                hostname, boot_time, uptime_s}
               id is the distribution ID ("debian", "fedora") or "windows" /
               "macos"; family is "linux" | "windows" | "darwin"
    cpu:       {model, logical_cores, physical_cores,
                load_avg: [1 min, 5 min, 15 min], usage_percent}
    memory:    {total, available, used, percent, swap_total, swap_used, swap_free}
    disks:     {mounts: [{device, mountpoint, fstype, total, used, free, percent}]}
               real filesystems as df lists them, each once; network
               filesystems have None sizes (they are never stat-ed)
    network:   {interfaces: [{name, mac, addresses: [{family: "ipv4"|"ipv6",
                address, netmask}], is_up, speed_mbps, mtu, bytes_sent,
                bytes_recv, packets_sent, packets_recv, errors_in, errors_out,
                drops_in, drops_out}],
                default_gateway: str | None, dns_servers: [str]}
    processes: {count, top_cpu: [{pid, name, username, cpu_percent, rss}],
                top_memory: [same]}
    services:  {manager: "systemd"|"sysv"|"windows"|"launchd"|None,
                items: [{name, state: "running"|"stopped"|"unknown", ...}]}
               extra item keys: systemd {load, active, sub, description};
               windows {status, start_mode, display_name};
               launchd {pid, last_exit_status}
    software:  {source: "dpkg"|"rpm"|"windows-registry"|"macos"|None,
                packages: [{name, version, ...}]}
               extra package keys: dpkg/rpm {arch};
               windows-registry {publisher, install_date (YYYYMMDD)};
               macos {path, obtained_from}
    users:     {sessions: [{name, terminal, host, started}]}

services and software are cached for ``slow_refresh_s``; software is then
re-read only if the package database changed. On Windows and macOS the
gateway and DNS servers need subprocesses and are cached the same way.
"""

from agent.inventory.collector import SECTIONS, InventoryCollector

__all__ = ["SECTIONS", "InventoryCollector"]
