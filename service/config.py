"""One typed settings object: YAML file, then TRAWLER_* environment, validated at start.

Every default lives here. Unknown keys are errors, not silently ignored: a typo in a
config file must stop the service at start, not disable a scanner in production.
Secrets are never values here: only the *names* of environment variables or files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.model import Action, Severity

ENV_PREFIX = "TRAWLER_"


class ConfigError(Exception):
    """Config is wrong; the message names the key and what is wrong with it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    """Enforced by the parser and the dispatcher, never by each scanner."""

    max_message_bytes: int = 64 * 1024 * 1024
    max_part_bytes: int = 25 * 1024 * 1024
    max_depth: int = 10  # nested message/rfc822 and archive layers
    max_attachments: int = 100
    scanner_timeout_s: float = 5.0
    message_deadline_s: float = 20.0
    # archive walking
    max_expanded_bytes: int = 100 * 1024 * 1024
    max_expansion_ratio: float = 100.0
    max_archive_entries: int = 1000
    max_password_tries: int = 5  # per encrypted file: an Agile key costs 0.1-0.17 s CPU
    pool_workers: int = 2  # processes for killable CPU work (decryption, archives, PDF)


class VerdictPolicy(_Strict):
    suspicious_at: Severity = Severity.MEDIUM
    malicious_at: Severity = Severity.HIGH
    max_action: Action = Action.REMEDIATE  # cap on what any rule may ask for
    # A weak sender signal and a weak link signal from different scanners make the
    # message suspicious (service/corroborate.py).
    corroborate: bool = True


class BlastRadius(_Strict):
    max_removals: int = 200  # distinct recipients per rule per window
    window_s: float = 3600.0


class Remediation(_Strict):
    mode: Literal["enforce", "shadow", "off"] = "enforce"
    min_severity: Severity = Severity.HIGH
    blast_radius: BlastRadius = BlastRadius()
    retries: int = 3
    retry_backoff_s: float = 0.5


class CollectorConfig(_Strict):
    name: str
    type: Literal["imap", "maildir", "ews", "graph", "smtp"]
    # maildir
    path: str | None = None
    # imap / ews / graph
    host: str | None = None
    port: int | None = None
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    folder: str = "INBOX"
    poll_interval_s: float = 0.05
    idle: bool = True
    idle_rearm_s: float = 540.0  # RFC 2177: re-issue IDLE at least every 29 min; we use 9
    tls_verify: bool = True
    # ews (Exchange Server journal mailbox; explicit endpoint and version, no autodiscover)
    service_endpoint: str | None = None  # https://mail.corp.example/EWS/Exchange.asmx
    version: str = "Exchange2016"  # Exchange2013 | Exchange2013_SP1 | Exchange2016 | Exchange2019
    auth_type: Literal["ntlm", "basic"] = "ntlm"
    access_type: Literal["impersonation", "delegate"] = "impersonation"
    mailbox: str | None = None  # journal (ews) or copy (graph) mailbox; default: username
    sync_interval_s: float = 1.0  # ews / graph: wait between syncs when nothing is new
    # graph (Exchange Online copy mailbox, delta query; Bcc is not visible this way)
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    # smtp (journal endpoint: Exchange Online's journal rule points here)
    listen: str = "127.0.0.1:2525"
    tls_cert_file: str | None = None  # with tls_key_file: STARTTLS offered
    tls_key_file: str | None = None
    require_tls: bool = False  # refuse MAIL before STARTTLS
    allowed_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    auth_users_file: str | None = None  # "user:password" lines (a mounted Secret): AUTH
    max_message_bytes: int = 64 * 1024 * 1024  # larger: 552 5.3.4


class MailboxesConfig(_Strict):
    type: Literal["imap", "maildir", "ews", "graph"] = "maildir"
    path: str | None = None  # maildir root holding <address>/
    host: str | None = None
    port: int | None = None
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    tls_verify: bool = True
    master_user: str | None = None
    master_password_env: str | None = None
    master_password_file: str | None = None
    master_separator: str = "*"
    quarantine_folder: str = "Quarantine"
    pool_size: int = 8  # concurrent sessions, to cap the load on the mail server
    # `trawler check` logs in as "<check_mailbox><sep><master_user>" to prove the master
    # password; unset, it uses the IMAP journal user when that is on the same server.
    check_mailbox: str | None = None
    # ews (Exchange Server, impersonation) / graph (Exchange Online, application permission)
    service_endpoint: str | None = None
    version: str = "Exchange2016"
    auth_type: Literal["ntlm", "basic"] = "ntlm"
    access_type: Literal["impersonation", "delegate"] = "impersonation"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    quarantine_mode: Literal["hidden_folder", "recoverableitemsdeletions"] = "hidden_folder"
    per_mailbox_concurrency: int = 4  # Graph's Outlook limit: 4 concurrent per mailbox


class WebhookSink(_Strict):
    """POST each alert as JSON, signed: X-Trawler-Signature: sha256=<HMAC of the body>."""

    url: str
    secret_env: str | None = None
    secret_file: str | None = None
    retries: int = 4  # after the first try; then a dead-letter record
    backoff_s: float = 1.0  # doubled per retry
    timeout_s: float = 5.0


class AlertSinksConfig(_Strict):
    log: bool = True
    webhooks: tuple[WebhookSink, ...] = ()
    redis_stream_url: str | None = None  # a Redis for downstream SOAR / case tools
    redis_stream_key: str = "trawler:alerts"
    redis_stream_maxlen: int = 100_000


class WebLogConfig(_Strict):
    """A proxy log file followed by `tail` for sites without a log shipper."""

    path: str
    format: Literal["json", "squid", "w3c"] = "squid"


class ResponseConfig(_Strict):
    url_index_ttl_s: float = 14 * 86400
    retrohunt_days: int = 7
    user_aliases_file: str | None = None  # YAML or CSV: alias -> mailbox address
    user_domain: str | None = None  # DOMAIN\user -> user@<this>; default: first org domain
    freemail_domains_file: str | None = None  # default: service/data/freemail_domains.txt
    allowlist_file: str | None = None  # hosts, domains, addresses never made indicators
    indicator_expiry: str = "90d"
    web_logs: tuple[WebLogConfig, ...] = ()
    max_keys_per_url: int = 50  # a URL in more messages than this is not a campaign's


def _default_scanners() -> dict[str, dict[str, Any]]:
    return {"yara": {}, "attachments": {}, "office": {}, "pdf": {}, "urls": {}, "headers": {},
            "indicators": {}}


class Settings(_Strict):
    data_root: str = "./trawler-data"
    state: str | None = None  # default: sqlite:///<data_root>/state.db
    rules: str = "./rules"
    listen: str = "127.0.0.1:8080"
    organisation_domains: tuple[str, ...] = ()
    collectors: tuple[CollectorConfig, ...] = ()
    mailboxes: MailboxesConfig = MailboxesConfig()
    remediation: Remediation = Remediation()
    limits: Limits = Limits()
    verdict: VerdictPolicy = VerdictPolicy()
    scanners: dict[str, dict[str, Any]] = Field(default_factory=_default_scanners)
    api_token_env: str = "TRAWLER_API_TOKEN"
    api_token_file: str | None = None
    workers: int = 1  # scanner processes on one machine (shared state needs Redis)
    concurrency: int = 8  # messages in flight per process
    reclaim_idle_s: float = 30.0  # take over a dead consumer's messages after this long
    shutdown_grace_s: float = 20.0  # SIGTERM: time to finish in-flight work
    rules_reload_s: float = 2.0
    # Reviewed indicators in git (YAML or CSV, see service/indicators.py), e.g.
    # rules/indicators.yaml; `trawler intel add` writes to the store instead.
    indicators_file: str | None = None
    alert_sinks: AlertSinksConfig = AlertSinksConfig()
    response: ResponseConfig = ResponseConfig()

    @field_validator("organisation_domains")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.strip().lower().lstrip("@") for d in v)

    @property
    def state_url(self) -> str:
        # Absolute, so the file does not move with the working directory; an absolute
        # path after "sqlite:///" gives the four-slash form (SQLAlchemy's convention).
        return self.state or f"sqlite:///{(Path(self.data_root) / 'state.db').resolve()}"


def _env_overlay(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """TRAWLER_REMEDIATION__MODE=shadow sets remediation.mode; values parse as YAML.

    Only names of known top-level keys are read so that secrets such as
    TRAWLER_API_TOKEN (read elsewhere) never land in the settings object.
    """
    known = set(Settings.model_fields)
    out = dict(data)
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        if path[0] not in known:
            continue
        node = out
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
            node[key] = child = dict(child)
            node = child
        node[path[-1]] = yaml.safe_load(raw) if raw else raw
    return out


def load(path: str | os.PathLike[str] | None = None,
         environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top")
        data = loaded or {}
    if "TRAWLER_DATA" in environ and "data_root" not in data:
        data["data_root"] = environ["TRAWLER_DATA"]
    data = _env_overlay(data, environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{where}: {msg}")
    return "invalid config: " + "; ".join(lines)


def read_secret(env_name: str | None, file_name: str | None,
                environ: dict[str, str] | None = None) -> str | None:
    """A secret from the environment or a mounted file (Kubernetes Secret)."""
    environ = dict(os.environ if environ is None else environ)
    if env_name and environ.get(env_name):
        return environ[env_name]
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {file_name}: {exc.strerror}") from exc
    return None


def dump_redacted(settings: Settings) -> str:
    """For `trawler check`: the effective settings; they hold no secret values."""
    return json.dumps(settings.model_dump(mode="json"), indent=2, sort_keys=True)
