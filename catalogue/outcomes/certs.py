"""cert.check: the report on a certificate chain, from wherever the agent or a transport
read it ({source, certificates: [describe(...)], and verified/verify_error for a server})."""

from __future__ import annotations

from typing import Any

from catalogue.result import ActionResult


def checked(data: dict[str, Any]) -> ActionResult:
    lines = []
    for cert in data["certificates"]:
        days = cert["days_left"]
        when = f"EXPIRED {-days} days ago" if cert["expired"] else f"{days} days left"
        lines.append(f"{cert['subject']}: not after {cert['not_after']} ({when})")
    if "verified" in data:
        trust = "trusted" if data["verified"] else f"NOT trusted: {data['verify_error']}"
        lines.insert(0, f"{data['source']}: {trust} by the system store")
    return ActionResult(output="\n".join(lines), data=data)
