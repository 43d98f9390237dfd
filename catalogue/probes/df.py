"""Filesystems as df(1) lists them: which are real disks, which are remote, and their use."""

from __future__ import annotations

from typing import Any

ARGV = ["df", "-P", "-T", "-B1", "-l"]  # -l: a dead NFS server cannot hang the listing
MOUNTS_PATH = "/proc/mounts"

# Kernel and virtual filesystems with no storage behind them, plus squashfs:
# snap mounts one read-only, always-full image per package revision, which
# would bury the real disks. overlay is not here: it is containers' root.
PSEUDO_FSTYPES = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
        "devfs", "devpts", "devtmpfs", "efivarfs", "fusectl", "fuse.gvfsd-fuse",
        "fuse.lxcfs", "fuse.portal", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore",
        "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs",
        "tracefs", "nullfs", "fdescfs",
    }
)  # fmt: skip
# statvfs on a network filesystem blocks while its server is unreachable, so
# these are listed without usage figures rather than risk hanging a snapshot.
REMOTE_FSTYPES = frozenset(
    {"nfs", "nfs4", "cifs", "smbfs", "smb3", "afs", "ceph", "glusterfs", "fuse.sshfs"}
)


def _real(fstype: str) -> bool:
    return bool(fstype) and fstype not in PSEUDO_FSTYPES


def parse_df(text: str) -> list[dict[str, Any]]:
    """Local filesystems from ``df -P -T -B1``: {device, mountpoint, fstype, total, used,
    free, percent}; percent as psutil computes it, used / (used + free)."""
    mounts: list[dict[str, Any]] = []
    for line in text.splitlines()[1:]:
        fields = line.split(None, 6)
        if len(fields) < 7 or not _real(fields[1]) or not fields[2].isdigit():
            continue
        total, used, free = int(fields[2]), int(fields[3]), int(fields[4])
        percent = round(100 * used / (used + free), 1) if used + free else 0.0
        entry = {"device": fields[0], "mountpoint": fields[6], "fstype": fields[1]}
        mounts.append(entry | {"total": total, "used": used, "free": free, "percent": percent})
    return mounts


def parse_remote_mounts(text: str) -> list[dict[str, Any]]:
    """Network filesystems from /proc/mounts, listed without sizes (never stat-ed)."""
    mounts: list[dict[str, Any]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] in REMOTE_FSTYPES:
            entry = {"device": fields[0], "mountpoint": fields[1], "fstype": fields[2]}
            mounts.append(entry | dict.fromkeys(("total", "used", "free", "percent")))
    return mounts
