"""The security team's host lists (shorteners, free hosting, file sharing), read from YAML once.

A listed host matches itself and its subdomains. Lookups walk the host's parent
domains, so each costs a few set probes however long the lists grow.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

HOSTS_FILE = Path(__file__).resolve().parent.parent / "data" / "url_hosts.yaml"
LISTS = ("url_shortener", "free_hosting", "file_sharing")


class HostListError(ValueError):
    """The host list file is unreadable or malformed; the message names the file."""


@dataclass(frozen=True, slots=True)
class HostLists:
    lists: dict[str, frozenset[str]]

    def categories(self, host: str) -> list[str]:
        """Names of the lists holding `host` or one of its parent domains."""
        labels = host.lower().strip(".").split(".")
        parents = {".".join(labels[i:]) for i in range(len(labels) - 1)}
        return [name for name, hosts in self.lists.items() if parents & hosts]


@functools.cache
def load(path: str | None = None) -> HostLists:
    where = Path(path) if path else HOSTS_FILE
    try:
        data = yaml.safe_load(where.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HostListError(f"URL host list {where}: {exc}") from None
    if not isinstance(data, dict):
        raise HostListError(f"URL host list {where}: expected a mapping of list -> hosts")
    unknown = sorted(set(data) - set(LISTS))
    if unknown:
        raise HostListError(f"URL host list {where}: unknown list(s) {', '.join(unknown)}; "
                            f"known: {', '.join(LISTS)}")
    lists: dict[str, frozenset[str]] = {}
    for name in LISTS:
        entries = data.get(name) or []
        if not isinstance(entries, list):
            raise HostListError(f"URL host list {where}: {name}: expected a list of hosts")
        lists[name] = frozenset(str(h).strip().lower().strip(".") for h in entries if h)
    return HostLists(lists)
