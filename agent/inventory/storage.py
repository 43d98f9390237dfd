"""Mounted filesystems and their usage, as ``df`` would list them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import psutil

from catalogue.probes.df import PSEUDO_FSTYPES as _PSEUDO_FSTYPES
from catalogue.probes.df import REMOTE_FSTYPES as _REMOTE_FSTYPES

if TYPE_CHECKING:
    from psutil._ntuples import sdiskpart


def _mount(part: sdiskpart, remote: bool) -> dict[str, Any] | None:
    entry: dict[str, Any] = {
        "device": part.device,
        "mountpoint": part.mountpoint,
        "fstype": part.fstype,
        "total": None,
        "used": None,
        "free": None,
        "percent": None,
    }
    if remote:
        return entry
    try:
        usage = psutil.disk_usage(part.mountpoint)
    except OSError:
        # Empty optical drives and card readers on Windows, or mounts we
        # may not read.
        return None
    entry.update(total=usage.total, used=usage.used, free=usage.free, percent=usage.percent)
    return entry


def collect_disks() -> list[dict[str, Any]]:
    """Return one entry per filesystem, sorted by mountpoint.

    A filesystem mounted at several places (bind mounts, containers' /etc/hosts
    and friends, /run/netns) is reported once, at its shortest mountpoint,
    the way df does it: mounts are told apart by the device number of the
    mountpoint, not by the device name, which is "overlay" for every overlay.
    """
    seen: set[int] = set()
    disks: list[dict[str, Any]] = []
    parts = sorted(psutil.disk_partitions(all=True), key=lambda p: len(p.mountpoint))
    for part in parts:
        if part.fstype in _PSEUDO_FSTYPES or not part.fstype:
            continue
        remote = part.fstype in _REMOTE_FSTYPES
        if not remote:
            try:
                dev = os.stat(part.mountpoint).st_dev
            except OSError:
                continue
            if dev in seen:
                continue
            seen.add(dev)
        entry = _mount(part, remote)
        if entry is not None:
            disks.append(entry)
    disks.sort(key=lambda d: str(d["mountpoint"]))
    return disks
