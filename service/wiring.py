"""Build collectors and mailbox backends from settings; the embedded default lives here.

With no collectors configured, Trawler runs on one machine with nothing installed:
the journal is the Maildir `<data root>/journal/`, each recipient's mailbox the Maildir
`<data root>/mailboxes/<address>/`, state `<data root>/state.db`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from service.collectors.base import JournalCollector, MailboxBackend
from service.config import (
    CollectorConfig,
    ConfigError,
    MailboxesConfig,
    Settings,
    read_secret,
)
from service.state.base import Store

if TYPE_CHECKING:
    from service.collectors.ews_common import EwsSettings
    from service.collectors.graph_client import GraphSettings

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
    if cfg.type == "ews":
        from service.collectors.ews_journal import EwsJournalCollector

        _need(cfg, "service_endpoint", "username")
        return EwsJournalCollector(
            cfg.name, _ews_settings(cfg, _password(cfg), 2), cfg.mailbox or str(cfg.username),
            store, folder=cfg.folder, sync_interval_s=cfg.sync_interval_s)
    if cfg.type == "graph":
        from service.collectors.graph_journal import GraphDeltaCollector

        _need(cfg, "tenant_id", "client_id", "mailbox")
        return GraphDeltaCollector(cfg.name, _graph_settings(cfg, f"collectors[{cfg.name}]"),
                                   str(cfg.mailbox), store, folder=cfg.folder,
                                   sync_interval_s=cfg.sync_interval_s)
    if cfg.type == "smtp":
        return build_smtp(cfg)
    raise ConfigError(f"collectors[{cfg.name}]: type {cfg.type} is not available in this build")


def build_smtp(cfg: CollectorConfig) -> JournalCollector:
    from service.app import split_hostport
    from service.collectors.smtp_journal import SmtpConfigError, SmtpJournalCollector

    host, port = split_hostport(cfg.listen, 25)
    try:
        return SmtpJournalCollector(
            cfg.name, host, port, tls_cert_file=cfg.tls_cert_file, tls_key_file=cfg.tls_key_file,
            require_tls=cfg.require_tls, allowed_networks=cfg.allowed_networks,
            auth_users_file=cfg.auth_users_file, max_message_bytes=cfg.max_message_bytes)
    except SmtpConfigError as exc:
        raise ConfigError(str(exc)) from None


def _ews_settings(cfg: CollectorConfig | MailboxesConfig, password: str,
                  threads: int) -> EwsSettings:
    from service.collectors.ews_common import EwsSettings

    where = f"collectors[{cfg.name}]" if isinstance(cfg, CollectorConfig) else "mailboxes"
    try:
        return EwsSettings(str(cfg.service_endpoint), str(cfg.username), password,
                           version=cfg.version, auth_type=cfg.auth_type,
                           access_type=cfg.access_type, threads=threads)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _graph_settings(cfg: CollectorConfig | MailboxesConfig, where: str) -> GraphSettings:
    from service.collectors.graph_client import GraphSettings

    secret = read_secret(cfg.client_secret_env, cfg.client_secret_file)
    if secret is None:
        raise ConfigError(f"{where}: set client_secret_env or client_secret_file "
                          f"(environment variable {cfg.client_secret_env or '?'} is empty)")
    concurrency = cfg.per_mailbox_concurrency if isinstance(cfg, MailboxesConfig) else 4
    return GraphSettings(str(cfg.tenant_id), str(cfg.client_id), secret,
                         authority_url=cfg.authority_url, graph_url=cfg.graph_url.rstrip("/"),
                         per_mailbox_concurrency=concurrency)


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
    if cfg.type == "ews":
        from service.collectors.ews_mailbox import EwsMailboxBackend

        _need(cfg, "service_endpoint", "username")
        password = read_secret(cfg.password_env, cfg.password_file)
        if password is None:
            raise ConfigError("mailboxes: set password_env or password_file "
                              f"(environment variable {cfg.password_env or '?'} is empty)")
        # `trawler check` opens one mailbox to prove endpoint, credentials and the
        # impersonation right: check_mailbox when set, else the service account's own.
        check = cfg.check_mailbox or str(cfg.username)
        return EwsMailboxBackend(_ews_settings(cfg, password, cfg.pool_size),
                                 cfg.quarantine_folder, check_mailbox=check)
    if cfg.type == "graph":
        from service.collectors.graph_mailbox import GraphMailboxBackend

        _need(cfg, "tenant_id", "client_id")
        return GraphMailboxBackend(_graph_settings(cfg, "mailboxes"), cfg.quarantine_folder,
                                   cfg.quarantine_mode)
    raise ConfigError(f"mailboxes: type {cfg.type} is not available in this build")
