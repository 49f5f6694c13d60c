"""The `trawler` command: run | scan | rules test | restore | check | intel."""

from __future__ import annotations

import argparse
import os
import sys

from service import config, logs
from service.config import ConfigError, Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = config.load(getattr(args, "config", None))
    updates: dict[str, object] = {}
    if getattr(args, "rules", None):
        updates["rules"] = args.rules
    if getattr(args, "listen", None):
        updates["listen"] = args.listen
    if updates:
        settings = settings.model_copy(update=updates)
    return settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trawler", description=__doc__)
    p.add_argument("--log-level", default=os.environ.get("TRAWLER_LOG_LEVEL", "INFO"))
    sub = p.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="scan .eml files or folders; JSON lines on stdout")
    scan.add_argument("paths", nargs="+", metavar="PATH")
    scan.add_argument("--rules", help="rules folder (default: config or ./rules)")
    scan.add_argument("--config")
    scan.add_argument("--summary", action="store_true",
                      help="print counts and msgs/s on stderr at the end")
    scan.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                      help="worker processes (default: one per core)")

    rules = sub.add_parser("rules", help="rule tooling")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rtest = rules_sub.add_parser("test", help="compile every rule and run its samples")
    rtest.add_argument("dir", nargs="?")
    rtest.add_argument("--config")

    run = sub.add_parser("run", help="run the service")
    run.add_argument("--config")
    run.add_argument("--rules")
    run.add_argument("--listen", metavar="HOST:PORT")
    run.add_argument("--smtp", metavar="HOST:PORT",
                     help="also accept journal reports over SMTP on this address")
    run.add_argument("--workers", type=int, help="scanner processes (Redis state only)")
    run.add_argument("--no-collectors", action="store_true",
                     help="scan and remediate only; journal intake runs elsewhere "
                          "(Kubernetes: the single-replica collector Deployment)")

    restore = sub.add_parser("restore", help="put removed copies back")
    restore.add_argument("target", metavar="MESSAGE_ID_OR_ALERT_ID")
    restore.add_argument("--config")

    check = sub.add_parser("check", help="verify config, rules and every connection")
    check.add_argument("--config")

    from service.intelcmd import add_parser as add_intel_parser

    add_intel_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level)
    try:
        if args.command == "scan":
            from service.scancmd import run_scan

            return run_scan(_settings(args), args.paths, args.jobs, args.summary)
        if args.command == "rules":
            from service.rulestest import run_rules_test

            return run_rules_test(args.dir or _settings(args).rules)
        if args.command == "run":
            from service.app import run_service

            return run_service(_settings(args), smtp=args.smtp, workers=args.workers,
                               intake=not args.no_collectors)
        if args.command == "restore":
            from service.app import run_restore

            return run_restore(_settings(args), args.target)
        if args.command == "intel":
            from service.intelcmd import run_intel

            return run_intel(_settings(args), args)
        if args.command == "check":
            from service.app import run_check

            return run_check(_settings(args))
    except ConfigError as exc:
        print(f"trawler: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
