"""List installed RPM packages with rpm -qa."""

from __future__ import annotations

from typing import Any

# Fedora 36+ moved the database under /usr/lib/sysimage; /var/lib/rpm is then
# a compatibility symlink, so both are checked for changes.
DATABASES = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
ARGV = [
    "rpm",
    "-qa",
    "--queryformat",
    "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\n",
]


def parse_rpm_query(text: str) -> list[dict[str, Any]]:
    """Return packages as {name, version, arch}, sorted by name.

    The version carries the epoch ("1:2.3-4") only when it is non-zero, the
    way rpm itself prints EVR strings. Keys such as gpg-pubkey have no arch.
    """
    packages: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        name, epoch, version, arch = parts
        if epoch not in ("", "0"):
            version = f"{epoch}:{version}"
        packages.append(
            {"name": name, "version": version, "arch": None if arch == "(none)" else arch}
        )
    packages.sort(key=lambda p: (p["name"], p["arch"] or ""))
    return packages
