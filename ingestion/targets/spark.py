"""Spark as the warehouse: raw/audit as Parquet in a lake, a Spark Thrift Server, published marts as Parquet.

Loads keep running through the DuckDB loader (readers, validation SQL, quarantine, load log); `export_raw`
then writes each load Spark lacks as one Parquet file per load id under `SALESDW_LAKE_DIR/raw/<table>/`
(the load log whole), and `register_raw` declares those folders as external Parquet tables in Spark's
catalog with the exact column types, plus the `__current` views. dbt (dbt-spark, `thrift` method) builds
staging -> marts in Spark, the gates query Spark through the same server, and `publish` writes the audited
marts as a new versioned folder of Parquet files, then swaps a pointer and the DuckDB serving file to it.

Every client (dbt, the gates, this module) talks to one Spark Thrift Server: the cluster's when
SALESDW_SPARK_HOST is set, else a local one started from the pyspark wheel (`LocalSparkServer`), which
alone holds the embedded Derby metastore (Derby admits one process).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingestion.contract import OBJECTS, SourceObject
from ingestion.settings import SparkSettings
from ingestion.warehouse import CURRENT_SUFFIX

# Session settings every client sets (dbt's profile carries the same; tests/spark checks they agree):
# dates come from UTC timestamps, `timestamp` means a naive timestamp as in DuckDB and Postgres, and
# non-ANSI arithmetic, which dbt-spark forces on its own sessions, is what the gates see too.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.ansi.enabled": "false",
}
SERVER_START_TIMEOUT = 240  # seconds; a cold JVM plus a new Derby metastore take 30-60 s on 2 busy cores
APPEND_BY_LOAD_ID = {"audit.quarantine": "load_id"}  # raw tables: _load_id; the load log is copied whole
PUBLISHED = "published"  # <lake>/published/<version>/<table>/*.parquet and <lake>/published/CURRENT.json
KEEP_VERSIONS = 2  # the current published set and the previous one (a reader may still be on it)


# Spark 4 ships without hive-llap-common (SPARK-51029), yet the Hive 2.3 `FunctionRegistry` it bundles instantiates
# a UDTF whose class names `LlapSigner$Signable` from that jar. The registry loads the first time the server needs
# Hive's functions: a Hive UDF, and some session closes (Hive's `SessionState.close` creates a new metastore handle
# when the worker thread has none it may reuse). The close then fails, which dbt reports as "Unhandled error while
# executing" a model it has just built, and Hive's one-time function registration stays "pending" for good, so a
# later close waits on it forever. An empty interface of that name is all the registry needs; the local server
# gets one on its class path (`hive_llap_shim`). A cluster's Thrift Server needs hive-llap-common on its own.
LLAP_SIGNABLE = "org/apache/hadoop/hive/llap/security/LlapSigner$Signable"


class SparkTargetError(RuntimeError):
    """Something the operator has to fix on the Spark side; the message says what."""


# --- the server -------------------------------------------------------------------------------------------


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _interface_class(name: str) -> bytes:
    """The class file of an empty public interface `name` (JVM internal form, a/b/C), Java 8 format (JVMS 4.1)."""

    def utf8(text: str) -> bytes:
        raw = text.encode()
        return b"\x01" + struct.pack(">H", len(raw)) + raw

    def class_ref(index: int) -> bytes:
        return b"\x07" + struct.pack(">H", index)

    pool = [utf8(name), class_ref(1), utf8("java/lang/Object"), class_ref(3)]  # entries #1-#4
    public_abstract_interface = 0x0001 | 0x0200 | 0x0400
    return b"".join(
        [
            b"\xca\xfe\xba\xbe",
            struct.pack(">HHH", 0, 52, len(pool) + 1),  # minor, major (Java 8), constant pool count
            *pool,
            struct.pack(">HHH", public_abstract_interface, 2, 4),  # flags, this class #2, super class #4
            struct.pack(">HHHH", 0, 0, 0, 0),  # no interfaces, fields, methods, attributes
        ]
    )


def hive_llap_shim(folder: Path) -> Path:
    """A jar in `folder` holding the one hive-llap-common interface Spark 4's Thrift Server needs (see LLAP_SIGNABLE).

    The same bytes every time (zip entry dated 1980-01-01), written only when they differ: a server that has
    the jar open never sees it rewritten.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(f"{LLAP_SIGNABLE}.class"), _interface_class(LLAP_SIGNABLE))
    jar = folder / "hive-llap-signable.jar"
    if not jar.exists() or jar.read_bytes() != buffer.getvalue():
        jar.write_bytes(buffer.getvalue())
    return jar


class LocalSparkServer:
    """A Spark Thrift Server on 127.0.0.1, started from the pyspark wheel, its state under `home`.

    One per `home` (its Derby metastore admits one process): `ensure()` reuses a live one, else starts one
    and waits until it answers; `stop()` ends it. State in `home/server.json` (pid, port), a file lock
    keeps two processes from starting two.
    """

    def __init__(self, home: Path, port: int = 10000, driver_memory: str = "4g"):
        self.home = Path(home)
        self.port = port  # fixed, so dbt's profile can name it before the server runs
        self.driver_memory = driver_memory

    @property
    def state_file(self) -> Path:
        return self.home / "server.json"

    @property
    def log_file(self) -> Path:
        return self.home / "thriftserver.log"

    def running(self) -> tuple[str, int] | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if state["port"] == self.port and _alive(state["pid"]) and _port_open("127.0.0.1", state["port"]):
            return "127.0.0.1", int(state["port"])
        return None

    def ensure(self) -> tuple[str, int]:
        """(host, port) of the running server, starting it first if needed."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".server.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = self.running()
            if found:
                return found
            return self._start()

    def _command(self, port: int, class_path: Path) -> list[str]:
        home = self.home.resolve()
        conf = {
            "spark.sql.warehouse.dir": str(home / "warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true",
            "spark.driver.memory": self.driver_memory,
            # Local mode answers many small queries: a few tasks per stage (not 200), broadcast joins up to
            # 64 MB instead of shuffles, adaptive execution to coalesce what remains.
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.sql.autoBroadcastJoinThreshold": str(64 << 20),
            "spark.ui.enabled": "false",
            "spark.log.level": "WARN",  # INFO logs every statement and metastore call: gigabytes a day
            "spark.sql.adaptive.enabled": "true",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
            "spark.driver.extraClassPath": str(class_path),
            **SESSION_CONF,
        }
        cmd = [
            str(spark_home() / "bin" / "spark-submit"),
            "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            "--master", "local[*]",
            "--name", "salesdw-local",
        ]  # fmt: skip
        for key, value in conf.items():
            cmd += ["--conf", f"{key}={value}"]
        return [
            *cmd,
            "spark-internal",
            "--hiveconf", f"hive.server2.thrift.port={port}",
            "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
        ]  # fmt: skip

    def _start(self) -> tuple[str, int]:
        port = self.port
        if _port_open("127.0.0.1", port):
            raise SparkTargetError(
                f"port {port} on 127.0.0.1 is taken by another program (not this local Spark server): "
                "set SALESDW_SPARK_PORT to a free port"
            )
        env = {**os.environ, "SPARK_HOME": str(spark_home()), "PYSPARK_PYTHON": sys.executable}
        env.pop("SPARK_CONF_DIR", None)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self._command(port, hive_llap_shim(self.home.resolve())),
                cwd=self.home,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends the JVM and its children
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SparkTargetError(
                    f"the local Spark Thrift Server exited with code {proc.returncode} while starting; "
                    f"see {self.log_file} (is Java 17 installed? `java -version`)"
                )
            if _port_open("127.0.0.1", port):
                self.state_file.write_text(
                    json.dumps({"pid": proc.pid, "port": port, "started": time.time()})
                )
                return "127.0.0.1", port
            time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)
        raise SparkTargetError(
            f"the local Spark Thrift Server did not answer within {SERVER_START_TIMEOUT}s; see {self.log_file}"
        )

    def stop(self) -> None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        pid = int(state["pid"])
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
                for _ in range(60):
                    if not _alive(pid):
                        break
                    time.sleep(0.5)
                else:
                    os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:  # reap it when this process started it
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.state_file.unlink(missing_ok=True)


@dataclass(frozen=True)
class Endpoint:
    """Where the Thrift Server answers (resolved: the local server's port is known once it runs)."""

    host: str
    port: int
    method: str = "thrift"
    user: str = "salesdw"
    token: str = field(default="", repr=False)
    cluster: str = ""

    def masked(self) -> str:
        scheme = "https" if self.method == "http" else "thrift"
        return f"spark {scheme}://{self.user}@{self.host}:{self.port}" + (
            f" (cluster {self.cluster})" if self.cluster else ""
        )


def local_server(settings: SparkSettings) -> LocalSparkServer | None:
    """The local server of these settings (None when they name a cluster's Thrift Server)."""
    if not settings.local:
        return None
    return LocalSparkServer(settings.home, settings.port, settings.driver_memory)


def endpoint(settings: SparkSettings) -> Endpoint:
    """The Thrift Server of these settings (the local one answers on 127.0.0.1:SALESDW_SPARK_PORT once started)."""
    if settings.local:
        return Endpoint("127.0.0.1", settings.port, "thrift", settings.user)
    return Endpoint(
        settings.host, settings.port, settings.method, settings.user, settings.token, settings.cluster
    )


def ensure_running(settings: SparkSettings) -> Endpoint:
    """The endpoint, after starting the local server if it is not running (a cluster's is assumed up)."""
    server = local_server(settings)
    if server is not None:
        server.ensure()
    return endpoint(settings)


def connect(ep: Endpoint):
    """A PyHive DB-API connection with the project's session settings; errors never show the token."""
    from pyhive import hive

    try:
        if ep.method == "http":
            from thrift.transport import THttpClient

            transport = THttpClient.THttpClient(
                f"https://{ep.host}:{ep.port}/sql/protocolv1/o/0/{ep.cluster}"
            )
            transport.setCustomHeaders({"Authorization": f"Bearer {ep.token}"})
            return hive.connect(thrift_transport=transport, configuration=SESSION_CONF)
        return hive.connect(host=ep.host, port=ep.port, username=ep.user, configuration=SESSION_CONF)
    except Exception as exc:
        raise SparkTargetError(
            f"Cannot connect to {ep.masked()}: {type(exc).__name__}: {str(exc)[:300]}"
        ) from None


@contextmanager
def cursor(ep: Endpoint) -> Iterator:
    con = connect(ep)
    try:
        cur = con.cursor()
        yield cur
        cur.close()
    finally:
        con.close()


def sqlalchemy_url(ep: Endpoint) -> str:
    """A SQLAlchemy URL for Great Expectations (expectations.engine_spark's dialect over PyHive)."""
    return f"spark+salesdw://{ep.user}@{ep.host}:{ep.port}/default"


def dbt_env(ep: Endpoint) -> dict[str, str]:
    """Environment for dbt's `spark` profile target (profiles.yml reads these; may carry the token)."""
    return {
        "SALESDW_SPARK_DBT_METHOD": ep.method,
        "SALESDW_SPARK_DBT_HOST": ep.host,
        "SALESDW_SPARK_DBT_PORT": str(ep.port),
        "SALESDW_SPARK_DBT_USER": ep.user,
        "SALESDW_SPARK_DBT_TOKEN": ep.token,
        "SALESDW_SPARK_DBT_CLUSTER": ep.cluster,
    }


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def literal(value: str) -> str:
    """A Spark SQL string literal: Spark reads backslash escapes in literals, so both are escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- the lake ---------------------------------------------------------------------------------------------


def _fs(lake: str):
    """(pyarrow filesystem, base path) of a local path or an object-store URL."""
    from pyarrow import fs

    if "://" in lake:
        filesystem, base = fs.FileSystem.from_uri(lake)
        return filesystem, base.rstrip("/")
    Path(lake).mkdir(parents=True, exist_ok=True)
    return fs.LocalFileSystem(), str(Path(lake).resolve())


def lake_uri(lake: str, *parts: str) -> str:
    """A lake location as Spark's catalog takes it (file:/// for a local lake)."""
    base = lake if "://" in lake else Path(lake).resolve().as_uri()
    return "/".join([base.rstrip("/"), *parts])


def spark_type(duckdb_type: str) -> str:
    """The Spark type holding exactly the values of a DuckDB column type."""
    t = duckdb_type.upper().strip()
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return f"decimal({m.group(1)},{m.group(2)})"
    mapping = {
        "VARCHAR": "string",
        "BOOLEAN": "boolean",
        "TINYINT": "tinyint",
        "SMALLINT": "smallint",
        "INTEGER": "int",
        "BIGINT": "bigint",
        "HUGEINT": "decimal(38,0)",
        "DOUBLE": "double",
        "FLOAT": "float",
        "DATE": "date",
        "TIMESTAMP": "timestamp_ntz",
        "TIMESTAMP WITH TIME ZONE": "timestamp_ltz",
        "JSON": "string",  # JSON text; the models parse it (get_json_object / from_json)
    }
    if t not in mapping:
        raise SparkTargetError(f"no Spark type for DuckDB type {duckdb_type!r}; add it to spark_type()")
    return mapping[t]


def _file_name(load_id: str) -> str:
    # Reversible and safe on every file system and object store (load ids hold ':'); not starting with
    # '_' or '.', which Spark skips as hidden.
    return "load-" + load_id.encode().hex() + ".parquet"


def _load_id_of(file_name: str) -> str | None:
    m = re.fullmatch(r"load-([0-9a-f]+)\.parquet", file_name)
    return bytes.fromhex(m.group(1)).decode() if m else None


@dataclass
class TableExport:
    table: str
    mode: str  # incremental | full | unchanged
    rows_written: int
    rows_total: int


@dataclass
class ExportReport:
    tables: list[TableExport] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return sum(t.rows_written for t in self.tables)

    def summary(self) -> str:
        changed = [t for t in self.tables if t.rows_written]
        return (
            f"wrote {self.rows_written} rows as Parquet into {len(changed)} of {len(self.tables)} lake tables"
        )


def duck_tables(
    duck: duckdb.DuckDBPyConnection, objects: Iterable[SourceObject] | None = None
) -> dict[str, list[tuple[str, str]]]:
    """raw/audit base tables of the DuckDB warehouse -> [(column, DuckDB type)] (raw limited to ``objects``)."""
    rows = duck.execute(
        "SELECT c.table_schema || '.' || c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema IN ('raw', 'audit') AND t.table_type = 'BASE TABLE' "
        "ORDER BY 1, c.ordinal_position"
    ).fetchall()
    # raw.<table>__current is DuckDB's own copy of the current versions: this target ranks its own (a view)
    rows = [r for r in rows if not (r[0].startswith("raw.") and r[0].endswith(CURRENT_SUFFIX))]
    out: dict[str, list[tuple[str, str]]] = {}
    for table, col, typ in rows:
        out.setdefault(table, []).append((col, typ))
    if objects is not None:
        wanted = {f"raw.{o.table}" for o in objects}
        out = {t: c for t, c in out.items() if t in wanted or t.startswith("audit.")}
    for table, cols in out.items():
        lowered = [c.lower() for c, _ in cols]
        if len(set(lowered)) != len(lowered):
            raise SparkTargetError(
                f"{table} has columns that differ only in case; Spark resolves names case-insensitively"
            )
    return out


def _write_parquet(duck, filesystem, path: str, select_sql: str) -> int:
    """Stream a DuckDB query into one Parquet file, written under a hidden name and moved into place."""
    import pyarrow.parquet as pq

    reader = duck.execute(select_sql).fetch_record_batch(1_000_000)
    folder = path.rsplit("/", 1)[0]
    filesystem.create_dir(folder, recursive=True)
    tmp = f"{folder}/.tmp-{uuid.uuid4().hex}.parquet"
    rows = 0
    with pq.ParquetWriter(
        tmp, _plain_schema(reader.schema), filesystem=filesystem, compression="zstd"
    ) as writer:
        for batch in reader:
            rows += batch.num_rows
            writer.write_batch(_plain_batch(batch))
    filesystem.move(tmp, path)
    return rows


def _plain_schema(schema):
    """DuckDB marks JSON columns with an Arrow extension type; Parquet keeps plain UTF-8 text."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, _storage(f.type)) for f in schema])


def _storage(t):
    import pyarrow as pa

    return t.storage_type if isinstance(t, pa.ExtensionType) else t


def _plain_batch(batch):
    import pyarrow as pa

    arrays = [a.storage if isinstance(a.type, pa.ExtensionType) else a for a in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, schema=_plain_schema(batch.schema))


def _lake_load_ids(filesystem, folder: str) -> set[str]:
    from pyarrow import fs

    try:
        infos = filesystem.get_file_info(fs.FileSelector(folder, allow_not_found=True))
    except FileNotFoundError:
        return set()
    return {
        i for i in (_load_id_of(f.base_name) for f in infos if f.type == fs.FileType.File) if i is not None
    }


def _lake_rows(filesystem, folder: str) -> int:
    """Rows in a lake table's files, from their Parquet footers."""
    import pyarrow.parquet as pq
    from pyarrow import fs

    infos = filesystem.get_file_info(fs.FileSelector(folder, allow_not_found=True))
    total = 0
    for info in infos:
        if info.type == fs.FileType.File and _load_id_of(info.base_name) is not None:
            with filesystem.open_input_file(info.path) as f:
                total += pq.ParquetFile(f).metadata.num_rows
    return total


def _clear(filesystem, folder: str) -> None:
    from pyarrow import fs

    if filesystem.get_file_info(folder).type != fs.FileType.NotFound:
        filesystem.delete_dir_contents(folder)


def _write_loads(duck, filesystem, folder: str, cols: str, source: str, key: str, ids: list[str]) -> int:
    """One Parquet file per load id of ``ids``; the rows written."""
    return sum(
        _write_parquet(
            duck,
            filesystem,
            f"{folder}/{_file_name(i)}",
            f"SELECT {cols} FROM {source} WHERE \"{key}\" = '{i.replace(chr(39), chr(39) * 2)}'",
        )
        for i in ids
    )


def export_raw(
    duck: duckdb.DuckDBPyConnection,
    lake: str,
    *,
    full: bool = False,
    objects: Iterable[SourceObject] | None = None,
) -> ExportReport:
    """Write what the lake lacks of the DuckDB raw/audit tables as Parquet (one file per load id).

    Raw history tables and the quarantine only grow a load at a time, so only load ids the lake lacks are
    written; a lake table with load ids DuckDB lacks (a rebuilt warehouse) is written in full. The load
    log is small and updated in place: always written whole, as one file replaced atomically.
    """
    duck.execute("SET TimeZone = 'UTC'")
    filesystem, base = _fs(lake)
    report = ExportReport()
    for qualified, columns in duck_tables(duck, objects).items():
        schema, table = qualified.split(".", 1)
        folder = f"{base}/{schema}/{table}"
        cols = ", ".join(f'"{c}"' for c, _ in columns)
        source = f'"{schema}"."{table}"'
        total = duck.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
        key = "_load_id" if schema == "raw" else APPEND_BY_LOAD_ID.get(qualified)
        if key is None:  # the load log: whole, replaced in one move
            written = _write_parquet(
                duck, filesystem, f"{folder}/{_file_name('all')}", f"SELECT {cols} FROM {source}"
            )
            report.tables.append(TableExport(qualified, "full", written, total))
            continue
        duck_ids = {r[0] for r in duck.execute(f'SELECT DISTINCT "{key}" FROM {source}').fetchall()}
        lake_ids = set() if full else _lake_load_ids(filesystem, folder)
        mode = "incremental"
        if None in duck_ids or not lake_ids <= duck_ids:
            mode, lake_ids = "full", set()
            _clear(filesystem, folder)
        new = sorted(duck_ids - lake_ids)
        written = _write_loads(duck, filesystem, folder, cols, source, key, new)
        if mode != "full" and _lake_rows(filesystem, folder) != total:
            # rows added under a load id the lake already has (not something the loader does): rewrite all
            _clear(filesystem, folder)
            new = sorted(duck_ids)
            mode, written = "full", _write_loads(duck, filesystem, folder, cols, source, key, new)
        report.tables.append(
            TableExport(qualified, mode if new or mode == "full" else "unchanged", written, total)
        )
    return report


# --- the catalog ------------------------------------------------------------------------------------------


def _spark_columns(cur, qualified: str) -> dict[str, str] | None:
    """column -> Spark type of a catalog table, None when it does not exist."""
    schema, table = qualified.split(".", 1)
    cur.execute(f"SHOW TABLES IN {ident(schema)} LIKE {literal(table)}")
    if not cur.fetchall():
        return None
    cur.execute(f"DESCRIBE TABLE {ident(schema)}.{ident(table)}")
    out = {}
    for name, typ, _ in cur.fetchall():
        if not name or name.startswith("#"):
            break
        out[name] = typ
    return out


def _same_spark_type(wanted: str, actual: str) -> bool:
    aliases = {"timestamp_ltz": "timestamp", "int": "int"}
    return aliases.get(wanted, wanted) == aliases.get(actual, actual)


def current_view_sql(obj: SourceObject, columns: Iterable[str]) -> str:
    """Spark twin of ingestion.warehouse.current_select: the latest version per key."""
    order = []
    if obj.version:
        order.append(f"{ident(obj.version)} DESC NULLS LAST")
    order += ["_batch DESC", "_row_number DESC"]  # strings compare byte for byte, as in DuckDB
    cols = ", ".join(ident(c) for c in columns)
    return (
        f"CREATE OR REPLACE VIEW raw.{ident(obj.table + '__current')} AS SELECT {cols} FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY {ident(obj.key)} ORDER BY {', '.join(order)}) "
        f"AS _salesdw_rank FROM raw.{ident(obj.table)}) ranked WHERE _salesdw_rank = 1"
    )


def register_raw(
    cur, lake: str, tables: dict[str, list[tuple[str, str]]], objects: Iterable[SourceObject] | None = None
) -> None:
    """Declare the lake's raw/audit folders as external Parquet tables with DuckDB's exact types, pick up
    new files (REFRESH) and new columns (ADD COLUMNS), and (re)create the `__current` views."""
    cur.execute("CREATE DATABASE IF NOT EXISTS raw")
    cur.execute("CREATE DATABASE IF NOT EXISTS audit")
    filesystem, base = _fs(lake)
    for qualified, columns in tables.items():
        schema, table = qualified.split(".", 1)
        wanted = [(c, spark_type(t)) for c, t in columns]
        existing = _spark_columns(cur, qualified)
        name = f"{ident(schema)}.{ident(table)}"
        if existing is not None:
            lower = {k.lower(): v for k, v in existing.items()}
            if any(c.lower() in lower and not _same_spark_type(t, lower[c.lower()]) for c, t in wanted):
                cur.execute(f"DROP TABLE {name}")  # external: the files stay
                existing = None
        if existing is None:
            filesystem.create_dir(f"{base}/{schema}/{table}", recursive=True)
            cols = ", ".join(f"{ident(c)} {t}" for c, t in wanted)
            cur.execute(
                f"CREATE TABLE {name} ({cols}) USING parquet LOCATION {literal(lake_uri(lake, schema, table))}"
            )
        else:
            added = [(c, t) for c, t in wanted if c.lower() not in {k.lower() for k in existing}]
            if added:
                cur.execute(
                    f"ALTER TABLE {name} ADD COLUMNS ({', '.join(f'{ident(c)} {t}' for c, t in added)})"
                )
            cur.execute(f"REFRESH TABLE {name}")
    for obj in OBJECTS if objects is None else objects:
        if f"raw.{obj.table}" in tables:
            cur.execute(current_view_sql(obj, [c for c, _ in tables[f"raw.{obj.table}"]]))


def replicate_raw(
    duck: duckdb.DuckDBPyConnection,
    ep: Endpoint,
    lake: str,
    *,
    full: bool = False,
    objects: Iterable[SourceObject] | None = None,
) -> ExportReport:
    """export_raw, then register_raw: what the loads just wrote is in the lake and in Spark's catalog."""
    objects = None if objects is None else list(objects)
    report = export_raw(duck, lake, full=full, objects=objects)
    with cursor(ep) as cur:
        register_raw(cur, lake, duck_tables(duck, objects), objects)
    return report


# --- publish ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    version: str
    tables: dict[str, int]
    published_at: datetime
    location: str


def _read_pointer(lake: str) -> dict | None:
    filesystem, base = _fs(lake)
    try:
        with filesystem.open_input_stream(f"{base}/{PUBLISHED}/CURRENT.json") as f:
            return json.loads(f.read().decode())
    except (FileNotFoundError, OSError):
        return None


def _write_pointer(lake: str, pointer: dict) -> None:
    filesystem, base = _fs(lake)
    folder = f"{base}/{PUBLISHED}"
    tmp = f"{folder}/.CURRENT-{uuid.uuid4().hex}.json"
    with filesystem.open_output_stream(tmp) as f:
        f.write(json.dumps(pointer, sort_keys=True).encode())
    filesystem.move(tmp, f"{folder}/CURRENT.json")  # a rename on a file system, one PUT on an object store


def publish(
    ep: Endpoint,
    lake: str,
    serving_file: Path,
    run_id: str,
    tables: Iterable[str],
    *,
    source_schema: str = "marts",
) -> PublishResult:
    """Write the audited marts as a new versioned folder of Parquet files, then make it current.

    The new set goes to `<lake>/published/<version>/<table>/`; nothing readers use changes until both
    pointers move: `<lake>/published/CURRENT.json` (one atomic replace) and the DuckDB serving file
    (SALESDW_MARTS: views `marts.<table>` over that version's files, replaced atomically). A reader sees
    the old or the new set, never a mix; a failure before the swap leaves the old set current.
    """
    tables = sorted(tables)
    published_at = datetime.now(UTC)
    version = published_at.strftime("%Y%m%dT%H%M%S") + "-" + re.sub(r"[^0-9A-Za-z]", "", run_id)[:12]
    counts: dict[str, int] = {}
    with cursor(ep) as cur:
        cur.execute(f"SHOW TABLES IN {ident(source_schema)}")
        available = {r[1] for r in cur.fetchall()}
        missing = sorted(set(tables) - available)
        if missing:
            raise SparkTargetError(
                f"schema {source_schema} in Spark lacks {', '.join(missing)}: build them with dbt before publishing "
                "(nothing was published; BI keeps the marts it had)"
            )
        for table in tables:
            where = lake_uri(lake, PUBLISHED, version, table)
            cur.execute(
                f"INSERT OVERWRITE DIRECTORY {literal(where)} USING parquet "
                f"SELECT * FROM {ident(source_schema)}.{ident(table)}"
            )
            cur.execute(f"SELECT count(*) FROM {ident(source_schema)}.{ident(table)}")
            counts[table] = int(cur.fetchone()[0])
    pointer = {
        "run_id": run_id,
        "version": version,
        "published_at": published_at.isoformat(),
        "tables": counts,
    }
    write_serving_file(lake, serving_file, pointer)
    _write_pointer(lake, pointer)
    _prune_versions(lake, keep={version, *(p["version"] for p in [_read_pointer(lake)] if p)})
    return PublishResult(run_id, version, counts, published_at, lake_uri(lake, PUBLISHED, version))


def write_serving_file(lake: str, serving_file: Path, pointer: dict) -> None:
    """The DuckDB serving file BI opens read-only: schema `marts` of views over the published Parquet files
    and `marts._published`, as the DuckDB target's serving file has. Built aside, then moved into place."""
    if "://" in lake:
        return  # DuckDB reads an object store only with its httpfs extension: BI reads through Spark then
    serving_file = Path(serving_file)
    serving_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving_file.with_name(f".{serving_file.name}.{uuid.uuid4().hex}.tmp")
    con = duckdb.connect(str(tmp))
    try:
        con.execute("CREATE SCHEMA marts")
        for table in pointer["tables"]:
            files = str(Path(lake).resolve() / PUBLISHED / pointer["version"] / table / "*.parquet")
            con.execute(f'CREATE VIEW marts."{table}" AS SELECT * FROM read_parquet({_duck_literal(files)})')
        con.execute("CREATE TABLE marts._published (run_id VARCHAR, published_at TIMESTAMPTZ, tables JSON)")
        con.execute(
            "INSERT INTO marts._published VALUES (?, ?, ?)",
            [
                pointer["run_id"],
                datetime.fromisoformat(pointer["published_at"]),
                json.dumps(pointer["tables"], sort_keys=True),
            ],
        )
    finally:
        con.close()
    tmp.chmod(0o444)
    os.replace(tmp, serving_file)


def _duck_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _prune_versions(lake: str, keep: set[str], versions: int = KEEP_VERSIONS) -> None:
    from pyarrow import fs

    filesystem, base = _fs(lake)
    infos = filesystem.get_file_info(fs.FileSelector(f"{base}/{PUBLISHED}", allow_not_found=True))
    folders = sorted((i.base_name for i in infos if i.type == fs.FileType.Directory), reverse=True)
    for name in folders[versions:]:
        if name not in keep:
            filesystem.delete_dir(f"{base}/{PUBLISHED}/{name}")


def published_info(lake: str) -> dict | None:
    """What the lake's published pointer says now ({run_id, published_at, tables, version}), or None."""
    pointer = _read_pointer(lake)
    if pointer is None:
        return None
    return {**pointer, "published_at": datetime.fromisoformat(pointer["published_at"])}


def published_location(lake: str, version: str, table: str) -> str:
    return lake_uri(lake, PUBLISHED, version, table)


def remove_local_state(home: Path) -> None:
    """Delete a local server's metastore and warehouse (tests; the server must be stopped)."""
    shutil.rmtree(home, ignore_errors=True)
