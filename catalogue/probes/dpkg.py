"""List installed Debian packages with dpkg-query."""

from __future__ import annotations

from typing import Any

DATABASE = "/var/lib/dpkg/status"
ARGV = [
    "dpkg-query",
    "-W",
    "-f=${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Status}\\n",
]
_INSTALLED = frozenset({"installed", "triggers-pending", "triggers-awaited"})


def parse_dpkg_query(text: str) -> list[dict[str, Any]]:
    """Return installed packages as {name, version, arch}, sorted by name.

    dpkg's database also lists packages that were removed but keep their
    config files, and ones whose unpacking or configuration broke off; only
    complete installs are reported, including those merely waiting for a
    trigger (man-db's, typically) to run.
    """
    packages: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or parts[3] not in _INSTALLED:
            continue
        name, version, arch, _ = parts
        packages.append({"name": name, "version": version, "arch": arch or None})
    packages.sort(key=lambda p: (p["name"], p["arch"] or ""))
    return packages
