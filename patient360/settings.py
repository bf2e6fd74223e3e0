"""Every setting of patient360, declared once: the environment variable, its default and what it means.

This is the only module that reads ``os.environ``. The same variables point the code at AWS (HealthLake's
Glue database, Redshift, MSK, Aurora MySQL) or at the local stand-ins under ``P360_DATA_DIR``; child
processes (dbt, the ingestor, the replicator) get them back through ``Settings.child_env``. The README's
configuration table is generated from ``VARIABLES`` (a test keeps the two equal).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
FRONT_DESK_DATABASE = "front_desk_app_db"  # the Aurora database the front-desk application writes
ZETL_DATABASE = "front_desk_zetl"  # the Redshift database the zero-ETL integration creates (default)


class SettingsError(ValueError):
    """A setting has a value that cannot work (named in the message)."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None
    meaning: str
    secret: bool = False
    described: bool = False  # the default is a description (computed in code), not a value


VARIABLES: tuple[Variable, ...] = (
    Variable("P360_TARGET", "local", "dbt target: `local` (DuckDB) or `redshift`"),
    Variable("P360_DATA_DIR", "<project>/.local", "local data directory: DuckDB files, datastore, logs, services",
             described=True),
    Variable("DBT_PROFILES_DIR", "<project>/profiles", "where dbt finds profiles.yml", described=True),
    Variable("P360_HEALTHLAKE_DB", "patient360_healthlake_view",
             "HealthLake Glue database (`<datastore>_healthlake_view`), dbt var `healthlake_db`"),
    Variable("P360_ZETL_DB", ZETL_DATABASE,
             "Redshift database of the Aurora zero-ETL integration, dbt var `zetl_db`"),
    Variable("P360_WEARABLES_TOPIC", "wearables_stream", "Kafka topic of the wearable events"),
    Variable("P360_WEARABLES_MSK_SCHEMA", "wearables_msk",
             "Redshift external schema over MSK (locally: the landing's schema)"),
    Variable("P360_MSK_CLUSTER_ARN", None, "MSK cluster of the external schema (or `P360_MSK_BOOTSTRAP_URI`)"),
    Variable("P360_MSK_BOOTSTRAP_URI", None, "MSK bootstrap URI of the external schema, instead of the ARN"),
    Variable("P360_MSK_IAM_ROLE_ARN", "default", "IAM role of the MSK external schema"),
    Variable("P360_STREAM_KIND", "msk",
             "wearable stream: `msk` (Kafka) or `kinesis` (Kinesis Data Streams), dbt var `stream_kind`"),
    Variable("P360_WEARABLES_KINESIS_STREAM", "wearables_stream", "Kinesis data stream of the wearable events"),
    Variable("P360_WEARABLES_KDS_SCHEMA", "from_kds",
             "Redshift external schema over Kinesis (locally: the landing's schema)"),
    Variable("P360_KDS_IAM_ROLE_ARN", "default", "IAM role of the Kinesis external schema"),
    Variable("KINESIS_ENDPOINT_URL", None,
             "Kinesis API endpoint; unset: real Kinesis (AWS_REGION), or `services start kinesis` locally"),
    Variable("AWS_REGION", None, "AWS region of the Kinesis client (kinesalite: any, `us-east-1` if unset)"),
    Variable("AWS_ACCESS_KEY_ID", None, "AWS access key of the Kinesis client (unset: boto3's default chain)"),
    Variable("AWS_SECRET_ACCESS_KEY", None, "AWS secret key of the Kinesis client", secret=True),
    Variable("AWS_SESSION_TOKEN", None, "AWS session token of the Kinesis client", secret=True),
    Variable("P360_KINESALITE", "<project>/.local/node/node_modules/kinesalite/cli.js",
             "kinesalite's cli.js (installed by `make services`)", described=True),
    Variable("KAFKA_BOOTSTRAP_SERVERS", None, "Kafka brokers (MSK); unset: the project starts a local broker"),
    Variable("KAFKA_SECURITY_PROTOCOL", None, "Kafka client security protocol (MSK: `SASL_SSL` or `SSL`)"),
    Variable("KAFKA_SASL_MECHANISM", None, "Kafka SASL mechanism (MSK IAM: `AWS_MSK_IAM`)"),
    Variable("FRONT_DESK_MYSQL_HOST", None,
             "front-desk MySQL (Aurora); unset: the project's private MariaDB under the data dir"),
    Variable("FRONT_DESK_MYSQL_PORT", "3306", "front-desk MySQL port"),
    Variable("FRONT_DESK_MYSQL_USER", "p360", "front-desk MySQL user"),
    Variable("FRONT_DESK_MYSQL_PASSWORD", "", "front-desk MySQL password", secret=True),
    Variable("FRONT_DESK_MYSQL_DATABASE", FRONT_DESK_DATABASE, "front-desk MySQL database"),
    Variable("FRONT_DESK_MYSQL_SOCKET", None, "front-desk MySQL unix socket (instead of host and port)"),
    Variable("REDSHIFT_HOST", None, "Redshift endpoint (target `redshift`)"),
    Variable("REDSHIFT_PORT", "5439", "Redshift port"),
    Variable("REDSHIFT_USER", None, "Redshift user"),
    Variable("REDSHIFT_PASSWORD", None, "Redshift password", secret=True),
    Variable("REDSHIFT_DATABASE", "dev", "Redshift database"),
    Variable("REDSHIFT_SCHEMA", "patient360", "Redshift schema the models build in"),
    Variable("P360_SYNTHEA_DIR", "<project>/../shared/fhir-samples/synthea-10",
             "real Synthea bulk-export folder the tests use (skipped when absent)", described=True),
    Variable("P360_SOF_SUITE_DIR", "<project>/../shared/sql-on-fhir-v2",
             "SQL-on-FHIR v2 conformance suite the tests use (skipped when absent)", described=True),
    Variable("P360_STREAM_LANDING_FAULT", None, "test hook: `kill_before_commit:<batch>` kills the ingestor"),
    Variable("P360_HYPOTHESIS_RANDOM", None, "tests: new random examples in the property tests (CI: fixed ones)"),
    Variable("P360_FAULT_FIGURES", None, "tests: also append each fault test's figures to this JSON-lines file"),
    Variable("P360_PROJECT_DIR", "<project>", "DAG: the dbt project directory", described=True),
    Variable("P360_CLI", "patient360 beside the DAG's Python", "DAG: the patient360 executable", described=True),
    Variable("P360_DBT", "dbt beside the DAG's Python", "DAG: the dbt executable", described=True),
    Variable("P360_DBT_INVOCATION", "auto", "DAG: dbt invoked as a subprocess or in-process (`auto`)"),
    Variable("P360_DBT_KEEP_OPEN", "true", "local profile: keep the DuckDB files open after dbt (the DAG's "
             "in-process dbt sets `false`)"),
    Variable("P360_REDSHIFT_CONN_ID", None, "DAG: Airflow connection for the Redshift profile"),
    Variable("P360_DAG_SCHEDULE", "*/15 * * * *", "DAG: schedule"),
    Variable("P360_DAG_RETRIES", "1", "DAG: task retries"),
    Variable("P360_DAG_TEST_BEHAVIOR", "build", "DAG: cosmos test behaviour"),
    Variable("P360_FHIR_IMPORT_DIR", None, "DAG: bulk-export folder imported each run (task skipped when unset)"),
    Variable("P360_DAG_STREAM_REFRESH", "auto", "DAG: `patient360 ingest` task (`auto`, `on`, `off`)"),
    Variable("P360_DAG_STREAM_REFRESH_ARGS", "ingest", "DAG: arguments of that task"),
    Variable("P360_DAG_REPLICATE", "auto", "DAG: `patient360 replicate --once` task (`auto`, `on`, `off`)"),
    Variable("P360_DAG_REPLICATE_ARGS", "replicate --once", "DAG: arguments of that task"),
    Variable("P360_DAG_SYNC", "off", "DAG: `patient360 sync export` task after the build (`on`, `off`)"),
    Variable("P360_DAG_SYNC_ARGS", "sync export", "DAG: arguments of that task"),
    Variable("P360_SYNC_DESTINATION", "<data dir>/sync/export",
             "sync export: a folder or `s3://bucket/prefix` (local: the S3 stand-in)", described=True),
    Variable("P360_SYNC_PROFILE", "care_team", "sync export: columns that leave, `care_team` or `analytics`"),
    Variable("P360_SYNC_FAULT", None, "test hook: `kill_mid_write` or `kill_before_watermark` kills the export"),
    Variable("P360_S3_ENDPOINT_URL", None,
             "S3 endpoint (unset: AWS; the S3 stand-in when `patient360 services start s3` runs)"),
    Variable("P360_S3_PORT", "4569", "port of the local S3 stand-in (s3rver)"),
    Variable("P360_UNLOAD_IAM_ROLE_ARN", None, "IAM role of UNLOAD and COPY (Redshift, sync)"),
    Variable("P360_REDSHIFT_CLUSTER_ID", None, "Data API: provisioned cluster identifier (or a workgroup)"),
    Variable("P360_REDSHIFT_WORKGROUP", None, "Data API: Redshift Serverless workgroup (or a cluster)"),
    Variable("P360_REDSHIFT_DB_USER", None, "Data API: database user (cluster, temporary credentials)"),
    Variable("P360_REDSHIFT_SECRET_ARN", None, "Data API: Secrets Manager secret instead of a database user"),
    Variable("AWS_REGION", None, "AWS region of the Data API and S3 clients"),
    Variable("P360_ENGAGEMENT_SCHEMA", "engagement_raw", "schema of the outreach write-back table, dbt source"),
)
_DECLARED = {variable.name: variable for variable in VARIABLES}


def settings_table() -> str:
    """The README's configuration table (markdown), from ``VARIABLES``."""
    lines = ["| variable | meaning | default |", "| --- | --- | --- |"]
    for v in VARIABLES:
        default = "unset" if v.default is None else ("empty" if v.default == "" else f"`{v.default}`")
        lines.append(f"| `{v.name}` | {v.meaning} | {default} |")
    return "\n".join(lines)


class _Reader:
    """Typed reads of declared variables (an undeclared name is a programming error)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        if value:
            return value
        variable = _DECLARED[name]
        return None if variable.default is None or variable.described else variable.default

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise SettingsError(f"{name} is not set")
        return value

    def integer(self, name: str) -> int:
        text = self.required(name)
        try:
            return int(text)
        except ValueError as exc:
            raise SettingsError(f"{name} must be an integer, got {text!r}") from exc

    def path(self, name: str, default: Path) -> Path:
        value = self.text(name)
        return Path(value).expanduser().resolve() if value else default.resolve()


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str | None  # None: the project starts a local broker
    topic: str = "wearables_stream"
    external_schema: str = "wearables_msk"
    security_protocol: str | None = None
    sasl_mechanism: str | None = None

    def client_config(self) -> dict[str, Any]:
        """kafka-python security options (MSK: SASL_SSL + AWS_MSK_IAM, or TLS)."""
        config: dict[str, Any] = {}
        if self.security_protocol:
            config["security_protocol"] = self.security_protocol
        if self.sasl_mechanism:
            config["sasl_mechanism"] = self.sasl_mechanism
        return config

    def as_env(self) -> dict[str, str]:
        env = {"P360_WEARABLES_TOPIC": self.topic, "P360_WEARABLES_MSK_SCHEMA": self.external_schema}
        optional = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
                    "KAFKA_SECURITY_PROTOCOL": self.security_protocol, "KAFKA_SASL_MECHANISM": self.sasl_mechanism}
        env.update({name: value for name, value in optional.items() if value})
        return env


STREAM_KINDS = ("msk", "kinesis")
LOCAL_REGION = "us-east-1"  # kinesalite accepts any region and any credentials


@dataclass(frozen=True)
class KinesisSettings:
    endpoint_url: str | None = None  # None: real Kinesis, or the project's kinesalite when one runs
    stream: str = "wearables_stream"
    external_schema: str = "from_kds"
    iam_role_arn: str = "default"
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    kinesalite: Path = PROJECT_DIR / ".local" / "node" / "node_modules" / "kinesalite" / "cli.js"

    def client_config(self, endpoint_url: str | None) -> dict[str, Any]:
        """boto3.client('kinesis', **config): everything passed explicitly, nothing read behind our back.
        A local endpoint (kinesalite) gets a region and dummy credentials when none are set."""
        config: dict[str, Any] = {"region_name": self.region or (LOCAL_REGION if endpoint_url else None)}
        if endpoint_url:
            config["endpoint_url"] = endpoint_url
        key, secret = self.access_key_id, self.secret_access_key
        if endpoint_url and not key:
            key, secret = KINESALITE_DUMMY_KEYS  # a local endpoint accepts any
        if key:
            config.update(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=self.session_token)
        return config

    def as_env(self) -> dict[str, str]:
        env = {"P360_WEARABLES_KINESIS_STREAM": self.stream, "P360_WEARABLES_KDS_SCHEMA": self.external_schema,
               "P360_KDS_IAM_ROLE_ARN": self.iam_role_arn, "P360_KINESALITE": str(self.kinesalite)}
        optional = {"KINESIS_ENDPOINT_URL": self.endpoint_url, "AWS_REGION": self.region,
                    "AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                    "AWS_SESSION_TOKEN": self.session_token}
        env.update({name: value for name, value in optional.items() if value})
        return env


def _kinesis_settings(read: _Reader) -> KinesisSettings:
    return KinesisSettings(
        endpoint_url=read.text("KINESIS_ENDPOINT_URL"), stream=read.required("P360_WEARABLES_KINESIS_STREAM"),
        external_schema=read.required("P360_WEARABLES_KDS_SCHEMA"), iam_role_arn=read.required("P360_KDS_IAM_ROLE_ARN"),
        region=read.text("AWS_REGION"), access_key_id=read.text("AWS_ACCESS_KEY_ID"),
        secret_access_key=read.text("AWS_SECRET_ACCESS_KEY"), session_token=read.text("AWS_SESSION_TOKEN"),
        kinesalite=read.path("P360_KINESALITE", KinesisSettings.kinesalite),
    )


def _stream_kind(read: _Reader) -> str:
    kind = read.required("P360_STREAM_KIND")
    if kind not in STREAM_KINDS:
        raise SettingsError(f"P360_STREAM_KIND must be one of {', '.join(STREAM_KINDS)}, got {kind!r}")
    return kind


ENV_PREFIX = "FRONT_DESK_MYSQL_"
KINESALITE_DUMMY_KEYS = ("local", "local")  # kinesalite checks no credentials, boto3 wants some


@dataclass(frozen=True)
class MySqlSettings:
    """Where a MySQL/MariaDB lives (Aurora, any MySQL, or the private MariaDB)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "p360"
    password: str = ""
    database: str = FRONT_DESK_DATABASE
    unix_socket: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MySqlSettings:
        read = _Reader(os.environ if env is None else env)
        return cls(
            host=read.text(f"{ENV_PREFIX}HOST") or cls.host, port=read.integer(f"{ENV_PREFIX}PORT"),
            user=read.required(f"{ENV_PREFIX}USER"), password=read.text(f"{ENV_PREFIX}PASSWORD") or "",
            database=read.required(f"{ENV_PREFIX}DATABASE"), unix_socket=read.text(f"{ENV_PREFIX}SOCKET"),
        )

    def as_env(self) -> dict[str, str]:
        env = {
            f"{ENV_PREFIX}HOST": self.host, f"{ENV_PREFIX}PORT": str(self.port), f"{ENV_PREFIX}USER": self.user,
            f"{ENV_PREFIX}PASSWORD": self.password, f"{ENV_PREFIX}DATABASE": self.database,
        }
        if self.unix_socket:
            env[f"{ENV_PREFIX}SOCKET"] = self.unix_socket
        return env

    def with_database(self, database: str) -> MySqlSettings:
        return replace(self, database=database)

    def describe(self) -> str:
        """For messages: where, never the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class SharedData:
    """Data from outside the repository that some tests use; absent in a user's clone."""

    synthea_dir: Path
    sof_suite_dir: Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    healthlake_db: str = "patient360_healthlake_view"
    zetl_db: str = ZETL_DATABASE
    target: str = "local"
    profiles_dir: Path = PROJECT_DIR / "profiles"
    kafka: KafkaSettings = field(default_factory=lambda: KafkaSettings(None))
    stream_kind: str = "msk"  # where the wearable stream lives: msk or kinesis
    kinesis: KinesisSettings = field(default_factory=KinesisSettings)
    front_desk: MySqlSettings | None = None  # None: the private MariaDB under the data dir
    landing_fault: str | None = None
    project_dir: Path = PROJECT_DIR
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def healthlake_catalog_path(self) -> Path:
        return self.data_dir / "awsdatacatalog.duckdb"

    @property
    def replica_path(self) -> Path:
        return self.data_dir / f"{self.zetl_db}.duckdb"

    @property
    def landing_path(self) -> Path:
        return self.data_dir / "stream_landing.duckdb"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def as_env(self) -> dict[str, str]:
        """These settings as the variables a child process reads them from."""
        env = {
            "P360_DATA_DIR": str(self.data_dir), "P360_HEALTHLAKE_DB": self.healthlake_db,
            "P360_ZETL_DB": self.zetl_db, "P360_TARGET": self.target, "DBT_PROFILES_DIR": str(self.profiles_dir),
            **self.kafka.as_env(), "P360_STREAM_KIND": self.stream_kind, **self.kinesis.as_env(),
        }
        if self.front_desk is not None:
            env.update(self.front_desk.as_env())
        return env

    def child_env(self, **overrides: str) -> dict[str, str]:
        """The full environment for a child process (dbt, the ingestor, the replicator): ours, then these."""
        return {**self.environ, **self.as_env(), **overrides}

    def dbt_env(self) -> dict[str, str]:
        return self.child_env()

    def with_data_dir(self, data_dir: Path) -> Settings:
        return replace(self, data_dir=data_dir.resolve())

    def with_front_desk(self, mysql: MySqlSettings | None) -> Settings:
        return replace(self, front_desk=mysql)

    def with_kafka(self, **changes: Any) -> Settings:
        return replace(self, kafka=replace(self.kafka, **changes))

    def with_kinesis(self, **changes: Any) -> Settings:
        return replace(self, kinesis=replace(self.kinesis, **changes))

    @property
    def stream_name(self) -> str:
        """The wearable stream's name: the Kafka topic or the Kinesis stream."""
        return self.kinesis.stream if self.stream_kind == "kinesis" else self.kafka.topic

    @property
    def stream_schema(self) -> str:
        """The landing's schema (on Redshift: the external schema) of the configured stream kind."""
        return self.kinesis.external_schema if self.stream_kind == "kinesis" else self.kafka.external_schema


def process_environ() -> dict[str, str]:
    """This process's environment, for launching children that must see it (tests, benchmarks)."""
    return dict(os.environ)


def load_settings(
    data_dir: Path | None = None, environ: Mapping[str, str] | None = None, **overrides: str
) -> Settings:
    """Settings from the environment (``environ`` instead, for tests), then ``overrides`` (variable names);
    ``data_dir`` overrides P360_DATA_DIR."""
    env = {**(os.environ if environ is None else environ), **overrides}
    read = _Reader(env)
    target = read.required("P360_TARGET")
    if target not in {"local", "redshift"}:
        raise SettingsError(f"P360_TARGET must be local or redshift, got {target!r}")
    kafka = KafkaSettings(
        bootstrap_servers=read.text("KAFKA_BOOTSTRAP_SERVERS"), topic=read.required("P360_WEARABLES_TOPIC"),
        external_schema=read.required("P360_WEARABLES_MSK_SCHEMA"),
        security_protocol=read.text("KAFKA_SECURITY_PROTOCOL"), sasl_mechanism=read.text("KAFKA_SASL_MECHANISM"),
    )
    return Settings(
        data_dir=(data_dir.resolve() if data_dir else read.path("P360_DATA_DIR", PROJECT_DIR / ".local")),
        healthlake_db=read.required("P360_HEALTHLAKE_DB"), zetl_db=read.required("P360_ZETL_DB"),
        target=target, profiles_dir=read.path("DBT_PROFILES_DIR", PROJECT_DIR / "profiles"), kafka=kafka,
        stream_kind=_stream_kind(read), kinesis=_kinesis_settings(read),
        front_desk=MySqlSettings.from_env(env) if read.text("FRONT_DESK_MYSQL_HOST") else None,
        landing_fault=read.text("P360_STREAM_LANDING_FAULT"), environ=env,
    )


@dataclass(frozen=True)
class SyncSettings:
    """Where the patient 360 is synced to and how Redshift and S3 are reached for it."""

    destination: str
    profile: str
    fault: str | None
    s3_endpoint_url: str | None
    s3_port: int
    iam_role_arn: str | None
    cluster_id: str | None
    workgroup: str | None
    db_user: str | None
    secret_arn: str | None
    region: str | None
    redshift_database: str
    redshift_schema: str
    engagement_schema: str


def load_sync_settings(settings: Settings) -> SyncSettings:
    """The sync settings of the same environment ``settings`` were read from."""
    read = _Reader(settings.environ)
    return SyncSettings(
        destination=read.text("P360_SYNC_DESTINATION") or str(settings.data_dir / "sync" / "export"),
        profile=read.required("P360_SYNC_PROFILE"), fault=read.text("P360_SYNC_FAULT"),
        s3_endpoint_url=read.text("P360_S3_ENDPOINT_URL"), s3_port=read.integer("P360_S3_PORT"),
        iam_role_arn=read.text("P360_UNLOAD_IAM_ROLE_ARN"), cluster_id=read.text("P360_REDSHIFT_CLUSTER_ID"),
        workgroup=read.text("P360_REDSHIFT_WORKGROUP"), db_user=read.text("P360_REDSHIFT_DB_USER"),
        secret_arn=read.text("P360_REDSHIFT_SECRET_ARN"), region=read.text("AWS_REGION"),
        redshift_database=read.required("REDSHIFT_DATABASE"), redshift_schema=read.required("REDSHIFT_SCHEMA"),
        engagement_schema=read.required("P360_ENGAGEMENT_SCHEMA"),
    )


def load_shared_data(environ: Mapping[str, str] | None = None) -> SharedData:
    read = _Reader(os.environ if environ is None else environ)
    shared = PROJECT_DIR.parent / "shared"
    return SharedData(
        synthea_dir=read.path("P360_SYNTHEA_DIR", shared / "fhir-samples" / "synthea-10"),
        sof_suite_dir=read.path("P360_SOF_SUITE_DIR", shared / "sql-on-fhir-v2"),
    )


@dataclass(frozen=True)
class DagSettings:
    """What the Airflow DAG reads (it runs in the scheduler's environment)."""

    project_dir: Path
    target: str
    cli: str | None
    dbt: str | None
    dbt_invocation: str
    redshift_conn_id: str | None
    redshift_schema: str
    schedule: str
    retries: int
    test_behavior: str
    fhir_import_dir: str | None
    hooks: dict[str, str] = field(default_factory=dict)  # setting name -> value (auto/on/off or arguments)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    stream_kind: str = "msk"

    @property
    def stream_source_variable(self) -> str:
        """The variable that names the wearable stream's source (unset: the stream hook has nothing to read)."""
        return "KINESIS_ENDPOINT_URL" if self.stream_kind == "kinesis" else "KAFKA_BOOTSTRAP_SERVERS"

    def hook(self, name: str) -> str:
        return self.hooks[name]


def load_dag_settings(environ: Mapping[str, str] | None = None) -> DagSettings:
    env = dict(os.environ if environ is None else environ)
    read = _Reader(env)
    hooks = ("P360_DAG_STREAM_REFRESH", "P360_DAG_STREAM_REFRESH_ARGS", "P360_DAG_REPLICATE", "P360_DAG_REPLICATE_ARGS",
             "P360_DAG_SYNC", "P360_DAG_SYNC_ARGS")
    return DagSettings(
        project_dir=read.path("P360_PROJECT_DIR", PROJECT_DIR), target=read.required("P360_TARGET"),
        cli=read.text("P360_CLI"), dbt=read.text("P360_DBT"), dbt_invocation=read.required("P360_DBT_INVOCATION"),
        redshift_conn_id=read.text("P360_REDSHIFT_CONN_ID"), redshift_schema=read.required("REDSHIFT_SCHEMA"),
        schedule=read.required("P360_DAG_SCHEDULE"), retries=read.integer("P360_DAG_RETRIES"),
        test_behavior=read.required("P360_DAG_TEST_BEHAVIOR"), fhir_import_dir=read.text("P360_FHIR_IMPORT_DIR"),
        hooks={name: read.required(name) for name in hooks}, environ=env, stream_kind=_stream_kind(read),
    )


def testing_option(name: str) -> str | None:
    """A declared test-only knob (P360_HYPOTHESIS_RANDOM, P360_FAULT_FIGURES), read here like every setting."""
    return _Reader(os.environ).text(name)


@dataclass(frozen=True)
class RedshiftSettings:
    """A live cluster (``make test-redshift``); None when REDSHIFT_HOST/USER/PASSWORD are not all set."""

    host: str
    user: str
    password: str
    port: int
    database: str
    schema: str


def load_redshift_settings(environ: Mapping[str, str] | None = None) -> RedshiftSettings | None:
    read = _Reader(os.environ if environ is None else environ)
    if not all(read.text(name) for name in ("REDSHIFT_HOST", "REDSHIFT_USER", "REDSHIFT_PASSWORD")):
        return None
    return RedshiftSettings(
        host=read.required("REDSHIFT_HOST"), user=read.required("REDSHIFT_USER"),
        password=read.required("REDSHIFT_PASSWORD"), port=read.integer("REDSHIFT_PORT"),
        database=read.required("REDSHIFT_DATABASE"), schema=read.required("REDSHIFT_SCHEMA"),
    )


@contextmanager
def patched_environ(overrides: Mapping[str, str], remove: tuple[str, ...] = ()) -> Iterator[None]:
    """This process's environment changed for the duration (dbt run in-process reads it), then restored."""
    saved = dict(os.environ)
    os.environ.update(overrides)
    for name in remove:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def executable_beside_python(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)
