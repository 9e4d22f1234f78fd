"""The one typed settings object; every path and URL of the platform derives from it."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lcdp import home as platform_home

#: Where the repository's Airflow DAG files live (the code checkout, not the data home).
REPO_ROOT = Path(__file__).resolve().parents[1]


#: The embedded engine's memory pool by default: this share of the machine's memory (or of
#: the container's limit), at least ``ENGINE_MEMORY_FLOOR`` and at most ``ENGINE_MEMORY_CAP``.
#: An eighth leaves room for Python, Airflow's task processes (each fusion task starts its own
#: engine) and the page cache the spill files go through.
ENGINE_MEMORY_FRACTION = 1 / 8
ENGINE_MEMORY_FLOOR = 1024**3
ENGINE_MEMORY_CAP = 8 * 1024**3


def machine_memory_bytes() -> int:
    """Physical memory, or the cgroup's limit when it is lower (a container)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def default_engine_memory_bytes() -> int:
    """``ENGINE_MEMORY_FRACTION`` of the machine, within the floor and the cap."""
    share = int(machine_memory_bytes() * ENGINE_MEMORY_FRACTION)
    return max(ENGINE_MEMORY_FLOOR, min(ENGINE_MEMORY_CAP, share))


def _home_of_airflow() -> Path | None:
    """The platform home whose Airflow home ``AIRFLOW_HOME`` is (``<home>/airflow``): an Airflow
    started on its own from the generated home runs our tasks against the right platform."""
    airflow_home = os.environ.get("AIRFLOW_HOME")
    if not airflow_home:
        return None
    candidate = Path(airflow_home).expanduser().resolve().parent
    return candidate if platform_home.home_problem(candidate) is None and Path(airflow_home).name == "airflow" else None


class Settings(BaseSettings):
    """Platform settings, read from ``LCDP_*`` environment variables (``--home`` sets ``home``).

    Only ``home`` is needed; everything else has an embedded default derived from it:
    the lake, the landing zone, a SQLite metadata DB, a local MLflow store, an Airflow home,
    and an embedded Sail engine (``spark_remote`` empty).
    """

    model_config = SettingsConfigDict(env_prefix="LCDP_", extra="ignore")

    home: Path = Field(default_factory=lambda: _home_of_airflow() or Path(".lcdp"),
                       description="Root of all platform state.")
    metadata_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in home.")
    mlflow_tracking_uri: str = Field(default="", description="Empty = SQLite in home.")
    spark_remote: str = Field(
        default="", description="Spark Connect URL (sc://host:port); empty = embedded Sail."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for identifiers. Empty = a random key kept in home/secrets.",
    )
    dags_folder: Path = Field(default=REPO_ROOT / "dags")
    max_upload_bytes: int = Field(default=4 * 1024**3, description="Deliveries above are refused.")
    engine_memory_bytes: int = Field(
        default_factory=default_engine_memory_bytes,
        description="Memory the embedded engine's operators may hold (hash tables, sorts, join "
        "build sides) before they spill to disk; default an eighth of the machine's memory, "
        "at least 1 GiB and at most 8 GiB.",
    )
    upload_stall_seconds: float = Field(
        default=60.0,
        description="An upload whose body sends no bytes for this long is answered 408 and dropped.",
    )
    upload_deadline_seconds: float = Field(
        default=3600.0, gt=0,
        description="An upload whose whole body has not arrived this long after it began is answered "
        "408 and dropped, however steadily its bytes trickle in.",
    )
    landing_quota_bytes: int = Field(
        default=64 * 1024**3, ge=0,
        description="Bytes a partner may hold in landing (every delivery is kept there, refused ones "
        "too); a delivery that would pass it is refused 413 until an operator makes room.",
    )
    ingest_lease_seconds: int = Field(
        default=3600,
        description="An ingest unfinished after this long is taken to have died and may be redone.",
    )
    csv_block_bytes: int = Field(default=8 * 1024**2, description="Parse block size; bounds memory.")
    ingest_threads: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), ge=1,
        description="Blocks of one delivery parsed and validated at once (default: the machine's "
        "cores, at most 4); memory grows by about two blocks per thread.",
    )
    max_record_bytes: int = Field(
        default=1024**2,
        description="A CSV or JSON Lines record (one row, all its fields) longer than this is "
        "quarantined as row:too_long; its first 64 KiB are kept as its text, the whole of it "
        "stays in landing.",
    )
    ggdata_max_page_rows: int = Field(
        default=10_000,
        description="A portal page with more rows is refused (the portal pages at most 1000).",
    )
    service_port: int = Field(
        default=8700,
        description="Port of `lcdp serve` (and of the service `lcdp up` starts); 8700, clear of "
        "Airflow's api-server (8080) and MLflow (5000).",
    )
    public_url: str = Field(
        default="",
        description="The service's address as consumers reach it: the endpoint of the Delta Sharing "
        "profiles `lcdp share profile` issues. Empty = http://127.0.0.1:<service_port>.",
    )
    airflow_port: int = Field(default=8080, description="Airflow api-server (UI and REST API) under `lcdp up`.")
    mlflow_port: int = Field(default=5000, description="MLflow tracking server (UI) under `lcdp up`.")
    spark_port: int = Field(default=15002, description="Sail Spark Connect server under `lcdp up`.")
    airflow_metadata_url: str = Field(
        default="",
        description="Airflow's own metadata DB. Empty = the platform's PostgreSQL database when "
        "LCDP_METADATA_URL points at one (Airflow's tables beside ours), else SQLite in the Airflow home.",
    )
    feed_poll_seconds: int = Field(
        default=0, ge=0,
        description="When set, every feed DAG polls its source this often instead of its schedule in "
        "infra/feeds.yaml (for trying the platform under `lcdp up`; read when DAG files are parsed).",
    )
    product_releases: dict[str, int] = Field(
        default_factory=dict,
        description="Releases of a data product consumers may read, per product, e.g. "
        '{"spending": 3}: the export API and Delta Sharing refuse older versions. A product not '
        "named keeps its declared number (2).",
    )
    retention_hours: int = Field(
        default=30 * 24,
        description="Vacuum keeps the files of every table version younger than this (time "
        "travel); versions pinned by a model are kept however old.",
    )

    @property
    def service_url(self) -> str:
        """Where consumers reach the service (``public_url``, or loopback on ``service_port``)."""
        return (self.public_url or f"http://127.0.0.1:{self.service_port}").rstrip("/")

    @property
    def airflow_db_url(self) -> str:
        if self.airflow_metadata_url:
            return self.airflow_metadata_url
        if self.metadata_url.startswith("postgresql"):
            return self.metadata_url
        return f"sqlite:///{self.airflow_home / 'airflow.db'}"

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def lake_root(self) -> Path:
        return self.home_dir / "lake"

    @property
    def landing_root(self) -> Path:
        return self.home_dir / "landing"

    @property
    def staging_root(self) -> Path:
        """Scratch space for a delivery being parsed; emptied after each ingest."""
        return self.home_dir / "staging"

    @property
    def drop_root(self) -> Path:
        """Where file-drop partners put their files: ``drop/<partner>/<dataset>/``."""
        return self.home_dir / "drop"

    @property
    def airflow_home(self) -> Path:
        return self.home_dir / "airflow"

    @property
    def metadata_db_url(self) -> str:
        return self.metadata_url or f"sqlite:///{self.home_dir / 'metadata.db'}"

    @property
    def mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.home_dir / "mlartifacts"

    @cached_property
    def hmac_key(self) -> bytes:
        """The pseudonymization key: configured, or generated once and kept (0600) in home."""
        if self.pseudonym_key is not None and self.pseudonym_key.get_secret_value():
            return self.pseudonym_key.get_secret_value().encode()
        return self.home_secret("pseudonym.key")

    def home_secret(self, name: str) -> bytes:
        """A random 256-bit secret kept in ``home/secrets/<name>`` (0600), made on first use;
        two processes making it at once both read the one that won."""
        key_file = self.home_dir / "secrets" / name
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
        return key_file.read_text().strip().encode()

    def ensure_dirs(self) -> None:
        """Make the home and its layout, and mark it as a platform home."""
        platform_home.mark(self.home_dir)
        for path in (self.lake_root, self.landing_root, self.staging_root):
            path.mkdir(parents=True, exist_ok=True)

    def as_env(self) -> dict[str, str]:
        """Environment that hands these settings to a child process (Airflow, tasks)."""
        env = {"LCDP_HOME": str(self.home_dir)}
        if self.metadata_url:
            env["LCDP_METADATA_URL"] = self.metadata_url
        if self.mlflow_tracking_uri:
            env["LCDP_MLFLOW_TRACKING_URI"] = self.mlflow_tracking_uri
        if self.spark_remote:
            env["LCDP_SPARK_REMOTE"] = self.spark_remote
        if self.pseudonym_key is not None:
            env["LCDP_PSEUDONYM_KEY"] = self.pseudonym_key.get_secret_value()
        for name in ("public_url", "service_port", "airflow_port", "mlflow_port", "spark_port",
                     "airflow_metadata_url", "feed_poll_seconds"):
            if name in self.model_fields_set:
                env[f"LCDP_{name.upper()}"] = str(getattr(self, name))
        if "engine_memory_bytes" in self.model_fields_set:  # else the child sizes its own
            env["LCDP_ENGINE_MEMORY_BYTES"] = str(self.engine_memory_bytes)
        return env


def load_settings(home: Path | None = None) -> Settings:
    """Settings from the environment, with ``home`` (the CLI's ``--home``) taking precedence."""
    return Settings(home=home) if home is not None else Settings()
