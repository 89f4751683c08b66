"""MariaDB for the behaviour tests: a local `mariadbd` standing in for the official image
(its entrypoint initialises an empty data directory and sets the root password), and a pod of
the rendered mysql chart run on it: init containers, server, replication step."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .pods import LocalPod
from .procs import Fatal, Proc, Processes, port_open, require_binary, run, wait_until
from .rendered import Manifest

START_TIMEOUT = 60.0


@dataclass
class MariaDB:
    """One mariadbd on host:port with its own data directory, including `config_dir`."""

    procs: Processes
    name: str
    host: str
    port: int
    datadir: Path
    config_dir: Path
    rundir: Path
    root_password: str
    proc: Proc | None = None
    initialised_at: float | None = None

    @property
    def socket(self) -> Path:
        return self.rundir / "mysqld.sock"

    def write_cnf(self) -> Path:
        """The image's part of the config: paths and address; the chart's part is included."""
        self.rundir.mkdir(parents=True, exist_ok=True)
        cnf = self.rundir / "my.cnf"
        user = "user = root\n" if os.geteuid() == 0 else ""
        cnf.write_text(
            "[mariadbd]\n"
            f"{user}"
            f"datadir = {self.datadir}\n"
            f"socket = {self.socket}\n"
            f"pid-file = {self.rundir / 'mysqld.pid'}\n"
            f"log-error = {self.rundir / 'error.log'}\n"
            f"port = {self.port}\n"
            f"bind-address = {self.host}\n"
            "innodb_buffer_pool_size = 32M\n"
            "innodb_log_file_size = 16M\n"
            "performance_schema = OFF\n"
            f"!includedir {self.config_dir}\n"
        )
        return cnf

    def initialise_if_empty(self) -> bool:
        """What the image's entrypoint does on an empty data directory; False when not empty."""
        if (self.datadir / "mysql").is_dir():
            return False
        install = require_binary("mariadb-install-db", "apt-get install mariadb-server")
        cnf = self.write_cnf()
        argv = [
            install,
            f"--defaults-file={cnf}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        try:
            run(argv, timeout=90, what=f"mariadb-install-db for {self.name}")
        except AssertionError as first:
            # Seen once on a loaded machine; the server's own log says why. Start over once
            # on an empty directory, as the image's entrypoint would after a pod restart.
            print(f"{first}\nerror log:\n{self.error_log()}\nretrying once")
            shutil.rmtree(self.datadir)
            self.datadir.mkdir(parents=True)
            try:
                run(argv, timeout=90, what=f"mariadb-install-db for {self.name} (again)")
            except AssertionError as second:
                raise AssertionError(f"{second}\nerror log:\n{self.error_log()}") from first
        self.start()
        # Like the entrypoint: root with a password from anywhere, not binlogged.
        pw = self.root_password.replace("'", "''")
        self.client_socket(
            "SET SESSION sql_log_bin = 0;"
            f"ALTER USER root@localhost IDENTIFIED BY '{pw}';"
            f"CREATE USER root@'%' IDENTIFIED BY '{pw}';"
            "GRANT ALL ON *.* TO root@'%' WITH GRANT OPTION;"
            "DROP USER IF EXISTS root@'127.0.0.1', root@'::1', root@'"
            + os.uname().nodename.replace("'", "''")
            + "';"
        )
        self.initialised_at = time.monotonic()
        return True

    def start(self) -> None:
        if self.proc and self.proc.running():
            return
        mariadbd = require_binary("mariadbd", "apt-get install mariadb-server")
        cnf = self.write_cnf()
        self.proc = self.procs.start(f"mariadbd-{self.name}", [mariadbd, f"--defaults-file={cnf}"])

        def ready() -> bool:
            if self.proc is None or not self.proc.running():
                tail = self.proc.tail() if self.proc else ""
                raise Fatal(f"mariadbd {self.name} exited:\n{self.error_log()}\n{tail}")
            return port_open(self.host, self.port) and self.socket.exists()

        wait_until(ready, START_TIMEOUT, f"mariadbd {self.name} on {self.host}:{self.port}")

    def stop(self) -> None:
        if self.proc:
            self.procs.stop(self.proc, timeout=30)
            self.proc = None

    def error_log(self) -> str:
        path = self.rundir / "error.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""
        )

    def _tcp(self, client: str, user: str) -> list[str]:
        return [client, "--protocol=TCP", "-h", self.host, "-P", str(self.port), "-u", user]

    def client_socket(self, query: str) -> str:
        client = require_binary("mariadb", "apt-get install mariadb-client")
        return run([client, "-S", str(self.socket), "-u", "root", "-e", query], timeout=30)

    def sql(self, query: str, user: str = "root", password: str | None = None) -> list[list[str]]:
        """Rows of `query` run over TCP (as root by default)."""
        client = require_binary("mariadb", "apt-get install mariadb-client")
        env = {
            **os.environ,
            "MYSQL_PWD": self.root_password if password is None else password,
        }
        out = run(
            [
                client,
                "--protocol=TCP",
                "-h",
                self.host,
                "-P",
                str(self.port),
                "-u",
                user,
                "-N",
                "-B",
                "-e",
                query,
            ],
            env=env,
            timeout=30,
            what=f"SQL on {self.name}: {query}",
        )
        return [line.split("\t") for line in out.splitlines() if line]

    def value(self, query: str) -> str:
        rows = self.sql(query)
        assert rows and rows[0], f"{query} returned no row on {self.name}"
        return rows[0][0]

    def replica_status(self) -> dict[str, str]:
        client = require_binary("mariadb", "apt-get install mariadb-client")
        out = run(
            [
                client,
                "--protocol=TCP",
                "-h",
                self.host,
                "-P",
                str(self.port),
                "-u",
                "root",
                "-E",
                "-e",
                "SHOW REPLICA STATUS",
            ],
            env={**os.environ, "MYSQL_PWD": self.root_password},
            timeout=30,
        )
        status: dict[str, str] = {}
        for line in out.splitlines():
            key, sep, value = line.partition(":")
            if sep and not key.startswith("*"):
                status[key.strip()] = value.strip()
        return status


@dataclass
class ChartPod:
    """A pod of the rendered mysql chart on this machine: its init containers run the chart's
    scripts, mariadbd stands in for the server container, then the replication step runs.
    Only addresses are changed: the pod's own (MYSQL_HOST/PORT) and the primary's."""

    docs: list[Manifest]
    statefulset: Manifest
    ordinal: int
    root: Path
    procs: Processes
    address: tuple[str, int]
    primary: tuple[str, int]
    namespace: str = "default"
    server: MariaDB | None = None
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pod = LocalPod(self.docs, self.statefulset, self.ordinal, self.root, self.namespace)

    @property
    def name(self) -> str:
        return self.pod.name

    def overrides(self) -> dict[str, str]:
        host, port = self.address
        return {
            "MYSQL_HOST": host,
            "MYSQL_PORT": str(port),
            "PRIMARY_HOST": self.primary[0],
            "PRIMARY_PORT": str(self.primary[1]),
            "WAIT_TIMEOUT": "60",
            "TMPDIR": str(self.root),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }

    def server_container(self) -> Manifest:
        return self.pod.spec["containers"][0]

    def start(self) -> None:
        """Start the pod as the kubelet would (new emptyDirs, same claim), up to replication."""
        self.pod.lay_out()
        for container in self.pod.spec.get("initContainers") or []:
            argv = self.pod.command(container)
            if not argv:
                continue
            out = run(
                argv,
                env=self.pod.env(container, self.overrides()),
                timeout=60,
                what=f"{self.name} init container {container['name']}",
            )
            self.log.append(out)
        main = self.server_container()
        env = self.pod.env(main, self.overrides())
        # the server's data and config directories, as the chart tells its scripts
        data, config_dir = Path(env["DATA_DIR"]), Path(env["CONFIG_DEST"])
        assert data.is_relative_to(self.root), "the server container mounts no data volume"
        assert config_dir.is_relative_to(self.root), "the server container mounts no config"
        # the server reads the init container's files in its own mounts: their container
        # paths (the chart's `datadir = DATA_DIR`) name this pod's local directories
        for cnf in config_dir.glob("*.cnf"):
            cnf.write_text(self.pod.translate(main, cnf.read_text()))
        password = env.get("MARIADB_ROOT_PASSWORD") or env.get("MYSQL_ROOT_PASSWORD")
        assert password, "the server container gets no root password"
        self.server = MariaDB(
            procs=self.procs,
            name=self.name,
            host=self.address[0],
            port=self.address[1],
            datadir=data,
            config_dir=config_dir,
            rundir=self.root / "run" / self.name,
            root_password=password,
        )
        if not self.server.initialise_if_empty():
            self.server.start()
        self.configure()

    def configure(self) -> None:
        """Run the chart's replication step once (its `--loop` sidecar runs it repeatedly)."""
        scripts = self.pod.containers_running("configure-replication.sh")
        assert scripts, "no container of the chart runs configure-replication.sh"
        container = scripts[0]
        argv = [a for a in self.pod.command(container) if a != "--loop"]
        out = run(
            argv,
            env=self.pod.env(container, self.overrides()),
            timeout=120,
            what=f"{self.name} configure-replication.sh",
        )
        self.log.append(out)

    def stop(self) -> None:
        if self.server:
            self.server.stop()
