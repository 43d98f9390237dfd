"""Controller settings: a TOML file, then DESKSIDE_* environment variables (env wins).

The TOML file is DESKSIDE_CONFIG if set, else ./deskside.toml when it exists. Keys are
the field names below (``http_listen = "0.0.0.0:8000"``). A bad value stops the process
at start with a message naming the setting and the reason.
"""

from __future__ import annotations

import os
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from controller.desk.priority import DEFAULT_MATRIX, checked_matrix
from controller.errors import ConfigError, InvalidInput


def _check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535, got {port!r}")
    return value


ListenAddress = Annotated[str, AfterValidator(_check_listen)]


def split_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def _config_file() -> Path | None:
    named = os.environ.get("DESKSIDE_CONFIG")
    if named:
        return Path(named)
    default = Path("deskside.toml")
    return default if default.exists() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESKSIDE_", extra="forbid")

    data_dir: Path = Path("var")
    http_listen: ListenAddress = "127.0.0.1:8000"
    grpc_listen: ListenAddress = "127.0.0.1:50051"
    # Enrolment needs server-only TLS (the agent has no certificate yet) and grpcio cannot
    # make a client certificate optional on one port, so it has its own listener:
    # by default the gRPC port + 1.
    enroll_listen: ListenAddress | None = None
    # The gRPC address agents are told to dial (enrolment commands); default: the
    # listen address, with this machine's name for a wildcard host.
    public_grpc_address: ListenAddress | None = None
    database_url: str | None = None
    bootstrap_token: SecretStr | None = Field(default=None, min_length=24)
    # Encrypts agentless endpoints' passwords and keys at rest (a Fernet key); unset: the
    # key file credentials.key in data_dir, made on first use.
    credentials_key: SecretStr | None = None
    heartbeat_interval_s: float = Field(default=10.0, ge=0.2, le=3600)
    inventory_interval_s: float = Field(default=300.0, ge=1, le=86400)
    enrollment_token_ttl_s: int = Field(default=86400, ge=60, le=90 * 86400)
    session_ttl_s: int = Field(default=12 * 3600, ge=300, le=30 * 86400)
    # Console cookies get the Secure flag when the request came over HTTPS; behind a
    # TLS-terminating proxy that speaks HTTP to us, set this to true.
    cookie_secure: bool | None = None
    log_level: str = Field(default="info", pattern="^(debug|info|warning|error)$")
    # Ticket priority by impact (rows 1-3) and urgency (columns 1-3); ServiceNow's default.
    priority_matrix: list[list[int]] = Field(
        default_factory=lambda: [list(row) for row in DEFAULT_MATRIX]
    )
    # Outgoing mail goes through this SMTP relay; unset: e-mail notifications are skipped.
    smtp_relay: ListenAddress | None = None
    # The e-mail intake: an SMTP listener whose mail opens and updates tickets; unset: off.
    smtp_listen: ListenAddress | None = None
    # From of outgoing mail; make it the address that reaches the intake, so replies thread.
    mail_from: str = "deskside@localhost"
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=1024**3)
    # The intake refuses bigger messages (SMTP 552).
    mail_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, le=1024**3)
    # Waits before each retry of a failed notification; one more attempt than entries.
    delivery_backoff_s: list[float] = Field(
        default_factory=lambda: [30.0, 120.0, 600.0, 3600.0, 21600.0], min_length=1, max_length=20
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("priority_matrix")
    @classmethod
    def _sane_matrix(cls, rows: list[list[int]]) -> list[list[int]]:
        try:
            checked_matrix(rows)
        except InvalidInput as exc:
            raise ValueError(exc.reason) from None
        return rows

    @field_validator("smtp_relay")
    @classmethod
    def _relay_port(cls, value: str | None) -> str | None:
        if value is not None and split_listen(value)[1] == 0:
            raise ValueError("the relay's port must be from 1 to 65535, not 0")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        _, address = parseaddr(value)
        local, at, domain = address.rpartition("@")
        bad = any(c.isspace() for c in address) or any(ord(c) < 32 for c in value)
        if not (local and at and domain) or bad:
            raise ValueError(f"expected an address such as desk@example.com, got {value!r}")
        return value

    @field_validator("delivery_backoff_s")
    @classmethod
    def _sane_backoff(cls, waits: list[float]) -> list[float]:
        if any(not 0 < wait <= 7 * 86400 for wait in waits):
            raise ValueError("each wait must be more than 0 and at most 604800 seconds")
        return waits

    @model_validator(mode="after")
    def _default_enroll_listen(self) -> Settings:
        if self.enroll_listen is None:
            host, port = split_listen(self.grpc_listen)
            self.enroll_listen = f"{host}:{port + 1 if port else 0}"
        return self

    @property
    def resolved_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.data_dir.resolve() / 'deskside.db'}"
        return async_database_url(url)


def async_database_url(url: str) -> str:
    """Accept plain sqlite:// and postgresql:// URLs and pick the async driver for them."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    raise ConfigError(
        f"DESKSIDE_DATABASE_URL: unsupported database {url.split(':', 1)[0]!r}; "
        "use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's report into one ConfigError per bad setting."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "DESKSIDE_" + "_".join(str(p) for p in error["loc"]).upper()
            problems.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed TOML file
        raise ConfigError(f"configuration file {_config_file()}: {exc}") from None
    settings.resolved_database_url  # noqa: B018 - validates the URL at start, not first use
    return settings
