"""Scanner registry: names to modules, options validated at start.

A scanner is one module with `NAME`, a frozen `Options` dataclass and
`async def scan(msg, options, ctx) -> list[Finding]`. The dispatcher owns limits and
error capture, so a scanner just scans.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from service.config import ConfigError, Limits
from service.model import Finding, ParsedMessage

# Routing table as data: which module implements each scanner name.
REGISTRY: dict[str, str] = {
    "yara": "service.scanners.yara",
    "attachments": "service.scanners.attachments",
    "office": "service.scanners.office",
    "pdf": "service.scanners.pdf",
    "headers": "service.scanners.headers",
    "indicators": "service.scanners.indicators",
    "urls": "service.scanners.urls",
}


class RuleSource(Protocol):
    """What the YARA scanner needs from the live rule library (hot-reloaded)."""

    @property
    def current(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class ScanContext:
    """Shared, read-only services a scanner may use. Never per-message state."""

    limits: Limits = field(default_factory=Limits)
    rules: RuleSource | None = None
    store: Any = None  # service.state.base.Store for the few stateful scanners
    organisation_domains: tuple[str, ...] = ()
    indicators: Any = None  # service.indicators.IndicatorIndex, for the indicators scanner


ScanFn = Callable[[ParsedMessage, Any, ScanContext], Awaitable[list[Finding]]]


@dataclass(frozen=True, slots=True)
class LoadedScanner:
    name: str
    options: Any
    scan: ScanFn


def _coerce(name: str, key: str, value: Any, hint: Any) -> Any:
    """Light type check of one option: config is YAML, so ints may arrive as strings."""
    origin = typing.get_origin(hint) or hint
    if origin in (types.UnionType, typing.Union):
        return value
    if origin in (tuple, list, frozenset) and isinstance(value, list | tuple):
        return origin(value)
    if origin is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"scanners.{name}.{key}: expected true or false, got {value!r}")
    if origin in (int, float, str):
        try:
            return origin(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"scanners.{name}.{key}: expected {origin.__name__}, got {value!r}"
            ) from None
    return value


def build_options(name: str, options_cls: type[Any], raw: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"scanners.{name}: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(fields)) or 'none'}"
        )
    hints = typing.get_type_hints(options_cls)
    values = {k: _coerce(name, k, v, hints.get(k, Any)) for k, v in raw.items()}
    return options_cls(**values)


def load_scanners(config: dict[str, dict[str, Any] | None]) -> list[LoadedScanner]:
    """Resolve configured scanner names; an unknown name is a clear error."""
    loaded = []
    for name, raw in config.items():
        module_path = REGISTRY.get(name)
        if module_path is None:
            raise ConfigError(
                f"scanners: unknown scanner {name!r}; known: {', '.join(sorted(REGISTRY))}"
            )
        module = importlib.import_module(module_path)
        options = build_options(name, module.Options, dict(raw or {}))
        loaded.append(LoadedScanner(name=name, options=options, scan=module.scan))
    return loaded
