"""Build collectors and mailbox backends from settings; the embedded default lives here.

With no collectors configured, Trawler runs on one machine with nothing installed:
the journal is the Maildir `<data root>/journal/`, each recipient's mailbox the Maildir
`<data root>/mailboxes/<address>/`, state `<data root>/state.db`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from service.collectors.base import JournalCollector, MailboxBackend
from service.config import (
    CollectorConfig,
    ConfigError,
    MailboxesConfig,
    Settings,
    read_secret,
)
from service.state.base import Store

log = logging.getLogger(__name__)


def journal_dir(settings: Settings) -> Path:
    return Path(settings.data_root) / "journal"


def mailboxes_dir(settings: Settings) -> Path:
    return Path(settings.data_root) / "mailboxes"


def collector_configs(settings: Settings) -> tuple[CollectorConfig, ...]:
    if settings.collectors:
        return settings.collectors
    return (CollectorConfig(name="journal", type="maildir", path=str(journal_dir(settings))),)


def _need(cfg: CollectorConfig | MailboxesConfig, *keys: str) -> None:
    where = f"collectors[{cfg.name}]" if isinstance(cfg, CollectorConfig) else "mailboxes"
    missing = [k for k in keys if getattr(cfg, k) in (None, "")]
    if missing:
        raise ConfigError(f"{where} ({cfg.type}): missing {', '.join(missing)}")


def _password(cfg: CollectorConfig) -> str:
    secret = read_secret(cfg.password_env, cfg.password_file)
    if secret is None:
        raise ConfigError(f"collectors[{cfg.name}]: set password_env or password_file "
                          f"(environment variable {cfg.password_env or '?'} is empty)")
    return secret


def build_collector(cfg: CollectorConfig, store: Store) -> JournalCollector:
    if cfg.type == "maildir":
        from service.collectors.maildir_journal import MaildirJournalCollector

        _need(cfg, "path")
        return MaildirJournalCollector(cfg.name, str(cfg.path), store, cfg.poll_interval_s)
    if cfg.type == "imap":
        from service.collectors.imap_journal import ImapJournalCollector

        _need(cfg, "host", "username")
        port = cfg.port or (993 if cfg.tls == "ssl" else 143)
        return ImapJournalCollector(
            cfg.name, str(cfg.host), port, cfg.tls, str(cfg.username), _password(cfg),
            cfg.folder, store, poll_interval_s=cfg.poll_interval_s, idle=cfg.idle,
            idle_rearm_s=cfg.idle_rearm_s, tls_verify=cfg.tls_verify)
    raise ConfigError(f"collectors[{cfg.name}]: type {cfg.type} is not available in this build")


def _journal_mailbox(settings: Settings) -> str | None:
    """The IMAP journal user on the mailbox server: a mailbox known to exist, so that
    `trawler check` can prove the master login without a configured check_mailbox."""
    cfg = settings.mailboxes
    for c in settings.collectors:
        if c.type == "imap" and c.host == cfg.host:
            return c.username
    return None


def build_backend(settings: Settings) -> MailboxBackend:
    cfg = settings.mailboxes
    if cfg.type == "maildir":
        from service.collectors.maildir_mailbox import MaildirMailboxBackend

        # "Quarantine" in config is the Maildir++ folder ".Quarantine" on disk.
        root = cfg.path or str(mailboxes_dir(settings))
        return MaildirMailboxBackend(root, cfg.quarantine_folder, settings.organisation_domains)
    if cfg.type == "imap":
        from service.collectors.imap import ImapMailboxBackend

        _need(cfg, "host", "master_user")
        password = read_secret(cfg.master_password_env, cfg.master_password_file)
        if password is None:
            raise ConfigError("mailboxes: set master_password_env or master_password_file "
                              f"(environment variable {cfg.master_password_env or '?'} "
                              "is empty)")
        if not settings.organisation_domains:
            raise ConfigError("organisation_domains: required with IMAP mailboxes, so that "
                              "removal never acts outside the organisation")
        port = cfg.port or (993 if cfg.tls == "ssl" else 143)
        return ImapMailboxBackend(
            str(cfg.host), port, cfg.tls, str(cfg.master_user), password,
            separator=cfg.master_separator, quarantine_folder=cfg.quarantine_folder,
            pool_size=cfg.pool_size, tls_verify=cfg.tls_verify,
            check_mailbox=cfg.check_mailbox or _journal_mailbox(settings))
    raise ConfigError(f"mailboxes: type {cfg.type} is not available in this build")
