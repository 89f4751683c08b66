"""The built images, run for real without a container engine (see sandbox.py): each
stand-in honours the contract of the official image it replaces."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from destate_images.builder import BuiltImage
from destate_images.oci import LAYER_TYPE, read_archive_manifest, unpack_archive
from destate_images.specs import all_images
from imagetest import REPO
from sandbox import results, run_in_image

ROOT_PASSWORD = "s3cret-Root_pw"


@pytest.fixture(scope="session")
def unpacked(built_images: dict[str, BuiltImage], tmp_path_factory: pytest.TempPathFactory):
    """name -> the image's root file system, unpacked once per session."""
    roots: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in roots:
            root = tmp_path_factory.mktemp(name) / "rootfs"
            unpack_archive(built_images[name].archive, root)
            roots[name] = root
        return roots[name]

    return get


def test_every_image_is_built_on_one_shared_base_layer(built_images: dict[str, BuiltImage]) -> None:
    assert set(built_images) == {spec.name for spec in all_images(REPO)}
    first_layers = set()
    for image in built_images.values():
        manifest, config = read_archive_manifest(image.archive)
        assert [layer["mediaType"] for layer in manifest["layers"]] == [LAYER_TYPE] * 2
        assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]
        first_layers.add(manifest["layers"][0]["digest"])
        with tarfile.open(image.archive) as tar:
            index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        assert index["manifests"][0]["digest"] == image.manifest_digest
        assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == image.ref
        user = config["config"]["User"]
        assert user.split(":")[0].isdigit() and user.split(":")[0] != "0", (image.name, user)
    assert len(first_layers) == 1


def test_build_again_is_a_cache_hit_with_the_same_digests(
    built_images: dict[str, BuiltImage],
) -> None:
    from destate_images.builder import build

    again = {image.name: image for image in build(all_images(REPO), say=lambda _m: None)}
    assert all(image.cached for image in again.values())
    assert {n: i.manifest_digest for n, i in again.items()} == {
        n: i.manifest_digest for n, i in built_images.items()
    }


MARIADB_START = r"""
data=$1
shift
mkdir -p "$R/run/secrets"
volume "$data" /var/lib/mysql
volume "$INITDB" /docker-entrypoint-initdb.d
volume "$SECRETS" /run/secrets
tmpfs_volume /run/mysqld 999
tmpfs_volume /etc/mysql/conf.d 999
readonly_root
start_as 999:999 "$@" >"$LOG" 2>&1 &
server=$!
SOCK=/run/mysqld/mysqld.sock
# client PASSWORD ARGS...: the mariadb client in the image; sql PASSWORD SQL: as root
client() { as 999:999 env MYSQL_PWD="$1" mariadb -N -B "${@:2}"; }
sql() { client "$1" --socket=$SOCK -uroot -e "$2"; }
# over TCP, as the chart's probes: the temporary server of the initialisation has none
for _ in $(seq 90); do
  if client "$ROOT_PW" --protocol=TCP -h 127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    break
  fi
  kill -0 "$server" 2>/dev/null || { cat "$LOG"; exit 3; }
  sleep 1
done
result uid "$(awk '/^Uid:/ {print $2}' $R/proc/$server/status)"
result comm "$(cat $R/proc/$server/comm)"
"""


def mariadb_run(root: Path, tmp: Path, env: list[str], args: str, checks: str):
    data, initdb, secrets = tmp / "data", tmp / "initdb", tmp / "secrets"
    for directory in (data, initdb, secrets):
        directory.mkdir(exist_ok=True)
        directory.chmod(0o777)
    (secrets / "app-password").write_text("app-Pass_1\n")
    (initdb / "10-table.sql").write_text(
        "CREATE TABLE appdb.greeting (id INT PRIMARY KEY, text VARCHAR(20));\n"
        "INSERT INTO appdb.greeting VALUES (1, 'hello');\n"
    )
    command = " ".join(["/usr/local/bin/docker-entrypoint.sh", *args.split()])
    script = (
        f"INITDB={initdb} SECRETS={secrets} LOG={tmp}/server.log ROOT_PW='{ROOT_PASSWORD}'\n"
        f"set -- {data} env {' '.join(env)} {command}\n"
        + MARIADB_START
        + checks
        + '\nkill -TERM "$server"; wait "$server" || true\n'
    )
    done = run_in_image(root, script)
    log = (tmp / "server.log").read_text() if (tmp / "server.log").exists() else ""
    return done, results(done.stdout), log


def test_mariadb_initialises_an_empty_datadir_then_reuses_it(unpacked, tmp_path: Path) -> None:
    root = unpacked("mariadb")
    env = [
        f"MARIADB_ROOT_PASSWORD={ROOT_PASSWORD}",
        "MARIADB_DATABASE=appdb",
        "MARIADB_USER=app",
        "MARIADB_PASSWORD_FILE=/run/secrets/app-password",
    ]
    checks = r"""
result root "$(sql "$ROOT_PW" 'SELECT CURRENT_USER()')"
wrong=$(sql wrong 'SELECT 1' >/dev/null 2>&1 && echo accepted || echo refused)
result wrong_password "$wrong"
result tcp_root "$(client "$ROOT_PW" --protocol=TCP -h 127.0.0.1 -uroot -e 'SELECT CURRENT_USER()')"
app=$(client app-Pass_1 --socket=$SOCK -uapp appdb -e 'SELECT DATABASE(), COUNT(*) FROM greeting')
result app "$app"
result server_id "$(sql "$ROOT_PW" 'SELECT @@server_id, @@log_bin, @@skip_networking')"
events=$(sql "$ROOT_PW" "SHOW BINLOG EVENTS IN 'mariadb-bin.000001'")
result binlog_root "$(echo "$events" | grep -ci root || true)"
sql "$ROOT_PW" "INSERT INTO appdb.greeting VALUES (2, 'kept')"
"""
    args = "mariadbd --log-bin=mariadb-bin --server-id=7"
    done, found, log = mariadb_run(root, tmp_path, env, args, checks)
    assert done.returncode == 0, done.stdout + done.stderr + log
    assert "initialising the empty data directory" in log
    assert found["uid"] == "999" and found["comm"] == "mariadbd"
    assert found["root"] == "root@localhost"
    assert found["wrong_password"] == "refused"
    assert found["tcp_root"] == "root@%"
    assert found["app"] == "appdb\t1"
    # the given arguments reach the final server, which listens on TCP
    assert found["server_id"] == "7\t1\t0"
    # root's accounts are never written to the binary log (replicas must not get them)
    assert found["binlog_root"] == "0"

    # a second start on the same datadir: no new initialisation, a new password is ignored
    env[0] = "MARIADB_ROOT_PASSWORD=another-password"
    checks = r"""
result rows "$(sql "$ROOT_PW" 'SELECT COUNT(*) FROM appdb.greeting')"
new=$(sql another-password 'SELECT 1' >/dev/null 2>&1 && echo accepted || echo refused)
result new_password "$new"
"""
    (tmp_path / "server.log").unlink()
    done, found, log = mariadb_run(root, tmp_path, env, "--server-id=8", checks)
    assert done.returncode == 0, done.stdout + done.stderr + log
    assert "initialising" not in log
    assert found["comm"] == "mariadbd"  # the '-' argument was given to mariadbd
    assert found["rows"] == "2"  # the initdb script did not run again; the row stayed
    assert found["new_password"] == "refused"


def test_mariadb_refuses_an_empty_datadir_without_a_root_password(unpacked, tmp_path: Path) -> None:
    root = unpacked("mariadb")
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    script = f"""
volume {data} /var/lib/mysql
tmpfs_volume /run/mysqld 999
readonly_root
as 999:999 /usr/local/bin/docker-entrypoint.sh mariadbd 2>&1 && result exit 0 || result exit $?
"""
    done = run_in_image(root, script)
    assert results(done.stdout)["exit"] == "1", done.stdout + done.stderr
    assert "MARIADB_ROOT_PASSWORD" in done.stdout
    assert not any(data.iterdir())


def test_mariadb_image_has_the_clients_the_chart_scripts_call(unpacked) -> None:
    root = unpacked("mariadb")
    script = """
readonly_root
for tool in mariadb mariadb-admin mariadb-dump mariadb-backup bash awk sed mktemp hostname; do
  as 999:999 sh -c "command -v $tool" >/dev/null && result "$tool" found || result "$tool" missing
done
"""
    found = results(run_in_image(root, script).stdout)
    assert set(found.values()) == {"found"}, found


def test_redis_answers_ping_as_uid_999_with_umask_0077(unpacked, tmp_path: Path) -> None:
    root = unpacked("redis")
    script = r"""
tmpfs_volume /data 999
readonly_root
start_as 999:999 sh -c 'cd /data && exec docker-entrypoint.sh --port 6379 --save ""' &
server=$!
for _ in $(seq 30); do
  out=$(as 999:999 redis-cli -h 127.0.0.1 ping 2>/dev/null || true)
  [ "$out" = PONG ] && break
  sleep 0.5
done
result ping "$out"
result uid "$(awk '/^Uid:/ {print $2}' $R/proc/$server/status)"
result comm "$(cat $R/proc/$server/comm)"
result umask "$(awk '/^Umask/ {print $2}' $R/proc/$server/status)"
kill -TERM "$server"; wait "$server" || true
"""
    done = run_in_image(root, script)
    found = results(done.stdout)
    assert found.get("ping") == "PONG", done.stdout + done.stderr
    assert found["uid"] == "999"
    assert found["comm"] == "redis-server"
    assert found["umask"] == "0077"


def test_envoy_runs_from_the_entrypoint_and_on_path(unpacked) -> None:
    root = unpacked("envoy")
    script = """
readonly_root
result via_entrypoint "$(as 101:101 /docker-entrypoint.sh --version | grep -i version)"
result on_path "$(as 10001:10001 sh -c 'command -v envoy')"
"""
    done = run_in_image(root, script)
    found = results(done.stdout)
    assert "1.40.0" in found.get("via_entrypoint", ""), done.stdout + done.stderr
    assert found["on_path"] == "/usr/local/bin/envoy"


def test_grpc_echo_serves_and_its_client_calls_it(unpacked) -> None:
    root = unpacked("grpc-echo")
    script = r"""
readonly_root
start_as 10001:10001 env PYTHONDONTWRITEBYTECODE=1 POD_NAME=echo-0 GRPC_PORT=50051 \
  python /app/server.py >/tmp/server.log 2>&1 &
server=$!
for _ in $(seq 60); do
  out=$(as 10001:10001 python /app/client.py 127.0.0.1:50051 --calls 3 --check-health 2>&1) && break
  sleep 0.5
done
echo "$out"
result health "$(echo "$out" | grep '^health ' || true)"
result instance "$(echo "$out" | grep -c 'echo-0' || true)"
result uid "$(awk '/^Uid:/ {print $2}' $R/proc/$server/status)"
kill -TERM "$server"; wait "$server" || true
"""
    done = run_in_image(root, script)
    found = results(done.stdout)
    assert found.get("health") == "health SERVING", done.stdout + done.stderr
    assert int(found["instance"]) >= 1
    assert found["uid"] == "10001"


def test_session_app_serves_its_counter(unpacked, tmp_path: Path) -> None:
    root = unpacked("session-app")
    script = r"""
readonly_root
start_as 10001:10001 env PYTHONDONTWRITEBYTECODE=1 APP_PORT=8080 POD_NAME=web-0 \
  sh -c 'cd /app && exec python /app/app.py' >/tmp/app.log 2>&1 &
server=$!
for _ in $(seq 60); do
  out=$(as 10001:10001 python -c '
import http.cookiejar, json, urllib.request
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
print([json.load(opener.open("http://127.0.0.1:8080/", timeout=5))["count"] for _ in range(3)])
' 2>&1) && break
  sleep 0.5
done
result counts "$out"
result redis_client "$(as 10001:10001 python -c 'import redis; print(redis.__version__)' 2>&1)"
kill -TERM "$server"; wait "$server" || true
"""
    done = run_in_image(root, script)
    found = results(done.stdout)
    assert found.get("counts") == "[1, 2, 3]", done.stdout + done.stderr
    assert found["redis_client"][:1].isdigit(), found


def test_pause_sleeps_until_sigterm(unpacked) -> None:
    root = unpacked("pause")
    script = """
readonly_root
start_as 65535:65535 /pause &
pid=$!
sleep 1
result alive "$(kill -0 $pid && echo yes)"
kill -TERM $pid
wait $pid && result exit 0 || result exit $?
"""
    found = results(run_in_image(root, script, timeout=30).stdout)
    assert found == {"alive": "yes", "exit": "0"}


def test_mariadb_runs_the_mysql_charts_own_scripts_as_a_primary(unpacked, tmp_path: Path) -> None:
    """init-config.sh, the entrypoint and configure-replication.sh of charts/mysql, as the
    pod runs them: the fresh primary's binary log holds nothing of the initialisation
    (a new replica would otherwise be refused as holding errant transactions)."""
    root = unpacked("mariadb")
    chart = REPO / "charts" / "mysql"
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    env = (
        "POD_NAME=db-mysql-0 POD_NAMESPACE=default HEADLESS_SERVICE=db-mysql-headless "
        "MYSQL_FLAVOR=mariadb CONFIG_SRC=/destate/config-src/role CONFIG_DEST=/etc/mysql/conf.d "
        f"MYSQL_ROOT_PASSWORD={ROOT_PASSWORD} MYSQL_REPLICATION_PASSWORD=repl-Pass_2"
    )
    script = f"""
mkdir -p "$R/destate/scripts" "$R/destate/config-src/role"
mount --bind -o ro {chart}/scripts "$R/destate/scripts"
mount --bind -o ro {chart}/files/mariadb "$R/destate/config-src/role"
volume {data} /var/lib/mysql
tmpfs_volume /etc/mysql/conf.d 999
tmpfs_volume /run/mysqld 999
readonly_root
as 999:999 env {env} bash /destate/scripts/init-config.sh
start_as 999:999 env {env} docker-entrypoint.sh mariadbd >{tmp_path}/server.log 2>&1 &
server=$!
ping() {{
  as 999:999 env MYSQL_PWD={ROOT_PASSWORD} mariadb-admin --protocol=TCP -h 127.0.0.1 -u root ping
}}
for _ in $(seq 90); do ping >/dev/null 2>&1 && break; sleep 1; done
result ping "$(ping 2>&1)"
sql() {{
  as 999:999 env MYSQL_PWD={ROOT_PASSWORD} mariadb --protocol=TCP -h 127.0.0.1 -uroot -N -B -e "$1"
}}
result before "$(sql 'SELECT @@server_id, @@log_bin, @@gtid_strict_mode, @@gtid_binlog_pos')"
as 999:999 env {env} bash /destate/scripts/configure-replication.sh 2>&1
result grants "$(sql "SHOW GRANTS FOR 'replicator'@'%'" | head -n1)"
kill -TERM "$server"; wait "$server" || true
"""
    done = run_in_image(root, script)
    found = results(done.stdout)
    log = (tmp_path / "server.log").read_text() if (tmp_path / "server.log").exists() else ""
    assert found.get("ping") == "mysqld is alive", done.stdout + done.stderr + log
    # server-id = SERVER_ID_BASE (100) + ordinal 0; binary log and strict GTIDs from
    # the chart's config; an empty GTID position: the initialisation wrote no event
    assert found["before"] == "100\t1\t1\t", found
    assert "REPLICATION SLAVE" in found["grants"], done.stdout
