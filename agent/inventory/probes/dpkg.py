"""List installed Debian packages with dpkg-query."""

from __future__ import annotations

from typing import Any

DATABASE = "/var/lib/dpkg/status"
ARGV = [
    "dpkg-query",
    "-W",
    "-f=${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Status}\\n",
]


def parse_dpkg_query(text: str) -> list[dict[str, Any]]:
    """Return installed packages as {name, version, arch}, sorted by name.

    Packages that are removed but keep config files, or are half-installed,
    still appear in dpkg's database; only "installed" ones are reported.
    """
    packages: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or parts[3] != "installed":
            continue
        name, version, arch, _ = parts
        packages.append({"name": name, "version": version, "arch": arch or None})
    packages.sort(key=lambda p: (p["name"], p["arch"] or ""))
    return packages
