"""`trawler intel add|list|remove`: indicators in the store, beside the reviewed file in git.

Writes go to the configured state store (the same one `trawler run` reads), are
audited, and reach running scanners within the index refresh interval (a few seconds).
The file named by `indicators_file` is only listed here: change it in git.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import sys
import time
from typing import TextIO

from service.config import Settings
from service.indicators import (
    Indicator,
    IndicatorError,
    IndicatorType,
    load_file,
    load_store,
    normalise,
)
from service.state import StoreUnavailable, open_store
from service.state.base import Store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intel = sub.add_parser("intel", help="indicators: add, list, remove")
    isub = intel.add_subparsers(dest="intel_command", required=True)
    types = [t.value for t in IndicatorType]
    add = isub.add_parser("add", help="add or replace an indicator in the store")
    add.add_argument("type", choices=types)
    add.add_argument("value")
    add.add_argument("--reason", required=True, help="why (shown in every alert it raises)")
    add.add_argument("--source", help="where it came from (default: cli:<user>)")
    add.add_argument("--expires", default="90d",
                     help="never, 30d, 12h, 2025-12-31 or an ISO datetime (default 90d)")
    add.add_argument("--severity", default="high", choices=["low", "medium", "high", "critical"])
    add.add_argument("--action", choices=["alert", "remediate"])
    add.add_argument("--config")
    lst = isub.add_parser("list", help="list indicators (store and file)")
    lst.add_argument("--type", choices=types)
    lst.add_argument("--all", action="store_true", help="include expired ones")
    lst.add_argument("--json", action="store_true", help="JSON lines")
    lst.add_argument("--config")
    rm = isub.add_parser("remove", help="remove an indicator from the store")
    rm.add_argument("type", choices=types)
    rm.add_argument("value")
    rm.add_argument("--config")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in a container
        return "unknown"


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _add(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    ind = Indicator.create(args.type, args.value, source=args.source or f"cli:{_user()}",
                           reason=args.reason, expires=args.expires, severity=args.severity,
                           action=args.action)
    await store.put_indicator(ind.key, ind.to_json())
    await store.audit({"event": "indicator_added", "actor": f"cli:{_user()}", "at": time.time(),
                       "indicator": ind.to_json()})
    out.write(f"added {ind.key} (expires {_when(ind.expires_at)})\n")
    return 0


async def _remove(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    key = f"{args.type}:{normalise(IndicatorType(args.type), args.value)}"
    if not await store.delete_indicator(key):
        out.write(f"no stored indicator {key}\n")
        return 1
    await store.audit({"event": "indicator_removed", "actor": f"cli:{_user()}",
                       "at": time.time(), "key": key})
    out.write(f"removed {key}\n")
    return 0


async def _list(settings: Settings, store: Store, args: argparse.Namespace,
                out: TextIO) -> int:
    items = list(load_file(settings.indicators_file)) if settings.indicators_file else []
    items += await load_store(store)
    now = time.time()
    for ind in sorted(items, key=lambda i: (i.type.value, i.value, i.origin)):
        if args.type and ind.type.value != args.type:
            continue
        if ind.expired(now) and not args.all:
            continue
        if args.json:
            out.write(json.dumps({**ind.to_json(), "origin": ind.origin,
                                  "expired": ind.expired(now)}) + "\n")
        else:
            out.write(f"{ind.type.value}\t{ind.value}\t{ind.severity.value}\t"
                      f"expires={_when(ind.expires_at)}\t{ind.origin}\t{ind.source}\t"
                      f"{ind.reason}\n")
    return 0


async def _run(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    store = open_store(settings.state_url)
    await store.open()
    try:
        if args.intel_command == "add":
            return await _add(store, args, out)
        if args.intel_command == "remove":
            return await _remove(store, args, out)
        return await _list(settings, store, args, out)
    finally:
        await store.close()


def run_intel(settings: Settings, args: argparse.Namespace, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return asyncio.run(_run(settings, args, out))
    except IndicatorError as exc:
        err.write(f"trawler: {exc}\n")
        return 2
    except (StoreUnavailable, ValueError) as exc:
        err.write(f"trawler: state store: {exc}\n")
        return 2
