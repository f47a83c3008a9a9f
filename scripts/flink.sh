#!/usr/bin/env bash
# A local Apache Flink cluster for Beam: `install`, `up`, `down`, `status`, `logs`.
#
# up starts a JobManager and a TaskManager (two JVMs, REST on localhost:8081), Beam's
# Flink job server (localhost:8099) and a Python SDK worker pool (localhost:50000)
# running the project's Python with the repository on its path. Everything installed
# lives in $EDGELINE_FLINK_DIR (default ~/.cache/edgeline/flink), outside the repository.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
HERE="$REPO/scripts/flink"
DIR="${EDGELINE_FLINK_DIR:-$HOME/.cache/edgeline/flink}"
PYTHON="${EDGELINE_PYTHON:-$REPO/.venv/bin/python}"
# Beam 2.59 (Python) accepts Flink 1.15-1.18; Maven Central serves Beam's runner for
# Flink 1.16 (up to Beam 2.56 with all its dependencies) and no shaded job-server jar.
FLINK_VERSION=1.16.0
JOB_PORT=8099
WORKER_PORT=50000
REST=http://localhost:8081
LOG="$DIR/log"
FLINK_HOME="$DIR/venv/lib/python3.9/site-packages/pyflink"
export FLINK_CONF_DIR="$DIR/conf" FLINK_LOG_DIR="$LOG" FLINK_PID_DIR="$LOG"

python39() {
  # apache-flink 1.16 publishes wheels for Python 3.7-3.9 only; pyenv's shim needs PYENV_VERSION.
  if command -v pyenv >/dev/null 2>&1; then
    local v
    v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.9\.[0-9]+$' | tail -1)
    [ -n "$v" ] && echo "$(pyenv root)/versions/$v/bin/python3.9" && return
  fi
  command -v python3.9 || { echo "flink.sh: needs Python 3.9 for apache-flink $FLINK_VERSION (pyenv install 3.9)" >&2; exit 1; }
}

install() {
  local stamp="$DIR/.installed-$FLINK_VERSION-$(sha256sum "$HERE/jobserver.sha256" | cut -c1-12)"
  [ -e "$stamp" ] && return
  mkdir -p "$DIR" "$LOG" "$DIR/conf"
  echo "installing Flink $FLINK_VERSION and Beam's job server into $DIR (first time: about a minute)"
  # The wheels' metadata pins an old apache-beam: a venv of their own, no dependencies.
  [ -x "$DIR/venv/bin/pip" ] || "$(python39)" -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION" 2>&1 | grep -v DEPRECATION || true
  [ -x "$FLINK_HOME/bin/start-cluster.sh" ] || { echo "flink.sh: no Flink distribution in $FLINK_HOME" >&2; exit 1; }
  rm -rf "$DIR/jobserver"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$DIR/jobserver"
  (cd "$DIR/jobserver" && sha256sum --quiet -c "$HERE/jobserver.sha256")
  [ "$(ls "$DIR/jobserver" | wc -l)" = "$(wc -l < "$HERE/jobserver.sha256")" ] \
    || { echo "flink.sh: the job server's jars differ from scripts/flink/jobserver.sha256" >&2; exit 1; }
  touch "$stamp"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return; sleep 1; done
  echo "flink.sh: $what did not come up within ${seconds}s" >&2
  logs >&2
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/localhost/$1") 2>/dev/null; }

up() {
  install
  cp "$HERE/flink-conf.yaml" "$DIR/conf/flink-conf.yaml"
  cp "$FLINK_HOME"/conf/log4j*.properties "$DIR/conf/"
  echo localhost:8081 > "$DIR/conf/masters"
  echo localhost > "$DIR/conf/workers"
  if ! curl -sf "$REST/overview" >/dev/null; then
    rm -f "$LOG"/flink-*
    "$FLINK_HOME/bin/jobmanager.sh" start >/dev/null
    "$FLINK_HOME/bin/taskmanager.sh" start >/dev/null
  fi
  wait_for 60 "Flink's TaskManager" bash -c "curl -sf $REST/overview | grep -q '\"taskmanagers\":1'"
  if ! port_open $JOB_PORT; then
    # --flink-master: submit to this cluster, not to an embedded one.
    nohup java --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
      --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
      -cp "$DIR/jobserver/*" org.apache.beam.runners.flink.FlinkJobServerDriver \
      --flink-master=localhost:8081 --job-port=$JOB_PORT --artifact-port=0 --expansion-port=0 \
      >"$LOG/jobserver.log" 2>&1 &
    echo $! >"$LOG/jobserver.pid"
  fi
  wait_for 60 "Beam's job server" port_open $JOB_PORT
  if ! port_open $WORKER_PORT; then
    # Workers are started by worker_boot.py, which imports the pipeline's --beam_plugin as a cluster's do.
    # Beam's pool runs `python` from PATH: the project's venv first.
    PATH="$(dirname "$PYTHON"):$PATH" PYTHONPATH="$REPO" TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 \
      PYTHONWARNINGS=ignore nohup "$PYTHON" -m apache_beam.runners.worker.worker_pool_main \
      --service_port=$WORKER_PORT --container_executable="$HERE/worker_boot.py" >"$LOG/workerpool.log" 2>&1 &
    echo $! >"$LOG/workerpool.pid"
  fi
  wait_for 60 "the Python worker pool" port_open $WORKER_PORT
  echo "Flink $FLINK_VERSION up: REST $REST, job server localhost:$JOB_PORT, workers localhost:$WORKER_PORT"
}

down() {
  local name pid
  for name in workerpool jobserver; do
    if [ -f "$LOG/$name.pid" ]; then
      pid=$(cat "$LOG/$name.pid")
      # The pool's workers are its children: end them with it.
      pkill -P "$pid" 2>/dev/null || true
      kill "$pid" 2>/dev/null || true
      rm -f "$LOG/$name.pid"
    fi
  done
  if [ -x "$FLINK_HOME/bin/taskmanager.sh" ]; then
    "$FLINK_HOME/bin/taskmanager.sh" stop >/dev/null 2>&1 || true
    "$FLINK_HOME/bin/jobmanager.sh" stop >/dev/null 2>&1 || true
  fi
}

status() {
  curl -sf "$REST/overview" && echo || { echo "Flink: not running"; return 1; }
  port_open $JOB_PORT && echo "job server: up" || echo "job server: down"
  port_open $WORKER_PORT && echo "worker pool: up" || echo "worker pool: down"
}

logs() {
  local f
  for f in "$LOG"/flink-*.log "$LOG"/flink-*.out "$LOG/jobserver.log" "$LOG/workerpool.log"; do
    [ -s "$f" ] && { echo "== $f (last 20 lines)"; tail -n 20 "$f"; }
  done
  return 0
}

case "${1:-}" in
  install | up | down | status | logs) "$1" ;;
  *) echo "usage: scripts/flink.sh install|up|down|status|logs" >&2; exit 2 ;;
esac
