"""An agent's network configuration (`environment.network`): "none", "internet", or
{"allow": [host or CIDR, ...]}. Pure: what the launchers enforce is theirs to say."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from .validation import FieldProblem

NONE = "none"
INTERNET = "internet"
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
# What looks like an address (digits and dots, a colon, a prefix) must be one: "10.0.0.0/33" is
# a mistake, not a host name.
_ADDRESS_LIKE = re.compile(r"^[0-9.]+(/.*)?$|:|/")


def allow_problems(allow: list[str], field: str) -> list[FieldProblem]:
    """Each entry of an allow list is a CIDR (or a single address) or a DNS host name."""
    problems = []
    for index, entry in enumerate(allow):
        if _ADDRESS_LIKE.search(entry):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                problems.append(FieldProblem(f"{field}.{index}", f"{entry!r} is not a CIDR or an address"))
        elif not _HOST.match(entry):
            problems.append(FieldProblem(f"{field}.{index}", f"{entry!r} is not a host name or a CIDR"))
    return problems


def configured_network(environment: Mapping[str, Any] | None) -> str | dict[str, Any]:
    """The configured network of a definition's environment; "internet" when it sets none."""
    network = (environment or {}).get("network")
    return network if network is not None else INTERNET


def cidrs(allow: list[str]) -> tuple[list[str], list[str]]:
    """An allow list split into CIDRs (single addresses as /32 or /128) and host names."""
    networks, hosts = [], []
    for entry in allow:
        if _ADDRESS_LIKE.search(entry):
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        else:
            hosts.append(entry)
    return networks, hosts
