"""Pure rules of the runtime: transitions, restart back-off, health status, log parsing."""

from __future__ import annotations

import os

import pytest

import engine.runtime
from engine.api.errors import Conflict
from engine.runtime.logs import LogRecord, join_partials, parse_records, parse_time_ns
from engine.runtime.state import (
    ContainerState,
    HealthProbe,
    HealthResult,
    HealthState,
    HealthStatus,
    RestartManager,
    check_transition,
)

S = ContainerState


def test_exported_names_exist():
    for name in engine.runtime.__all__:
        assert hasattr(engine.runtime, name), name


def test_transitions_table_refuses_what_it_does_not_list():
    check_transition("c", S.CREATED, S.RUNNING)
    check_transition("c", S.RUNNING, S.PAUSED)
    with pytest.raises(Conflict, match="is running: it cannot become removing") as caught:
        check_transition("c", S.RUNNING, S.REMOVING)
    assert "stop the container first" in (caught.value.hint or "")
    with pytest.raises(Conflict):
        check_transition("c", S.DEAD, S.RUNNING)


def test_restart_backoff_doubles_to_a_minute_and_resets_after_ten_seconds():
    manager = RestartManager("always")
    delays = [
        manager.should_restart(0, cancelled=False, manually_stopped=False, uptime=0.5)
        for _ in range(12)
    ]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0
    assert manager.should_restart(0, cancelled=False, manually_stopped=False, uptime=10) == 0.1
    assert manager.should_restart(0, cancelled=True, manually_stopped=True, uptime=1) is None


def test_restart_policies():
    on_failure = RestartManager("on-failure", maximum_retry_count=2)
    assert on_failure.should_restart(0, cancelled=False, manually_stopped=False, uptime=1) is None
    assert (
        on_failure.should_restart(1, cancelled=False, manually_stopped=False, uptime=1) is not None
    )
    assert (
        on_failure.should_restart(1, cancelled=False, manually_stopped=False, uptime=1) is not None
    )
    assert on_failure.should_restart(1, cancelled=False, manually_stopped=False, uptime=1) is None
    unless = RestartManager("unless-stopped")
    assert unless.should_restart(0, cancelled=False, manually_stopped=True, uptime=1) is None
    always = RestartManager("always")
    assert always.should_restart(0, cancelled=False, manually_stopped=True, uptime=1) == 0.1
    assert (
        RestartManager("no").should_restart(1, cancelled=False, manually_stopped=False, uptime=1)
        is None
    )


def test_health_probe_defaults_and_forms():
    probe = HealthProbe.from_test(["CMD-SHELL", "curl -f localhost"])
    assert probe is not None
    assert probe.command == ("/bin/sh", "-c", "curl -f localhost")
    assert (
        probe.interval,
        probe.timeout,
        probe.retries,
        probe.start_period,
        probe.start_interval,
    ) == (30.0, 30.0, 3, 0.0, 5.0)
    assert HealthProbe.from_test(["NONE"]) is None
    assert HealthProbe.from_test(["CMD", "true"], interval_ns=2_000_000_000).interval == 2.0


def test_health_state_follows_dockers_rules():
    probe = HealthProbe(command=("x",), retries=2, start_period=10.0)
    health = HealthState()
    # Failures inside the start period do not count while starting.
    health.record(HealthResult(5.0, 5.1, 1, "no"), probe, started_at=0.0)
    assert (health.status, health.failing_streak) == (HealthStatus.STARTING, 0)
    health.record(HealthResult(11.0, 11.1, 1, "no"), probe, started_at=0.0)
    health.record(HealthResult(12.0, 12.1, 1, "no"), probe, started_at=0.0)
    assert health.status is HealthStatus.UNHEALTHY
    health.record(HealthResult(13.0, 13.1, 0, "x" * 5000), probe, started_at=0.0)
    assert (health.status, health.failing_streak) == (HealthStatus.HEALTHY, 0)
    assert len(health.log) == 4 and len(health.log[-1].output) == 4096
    for second in range(10):
        health.record(HealthResult(20.0 + second, 20.5 + second, 0, ""), probe, started_at=0.0)
    assert len(health.log) == 5
    assert probe.next_interval(HealthStatus.STARTING, 1.0) == 5.0
    assert probe.next_interval(HealthStatus.HEALTHY, 1.0) == 30.0


def test_cri_records_join_partial_lines_per_stream():
    lines = [
        b"2026-11-27T22:47:57.933096793+00:00 stdout P aaa\n",
        b"2026-11-27T22:47:57.933100000+00:00 stderr F err\n",
        b"2026-11-27T22:47:57.933153958+00:00 stdout P bbb\n",
        b"2026-11-27T22:47:57.933162641+00:00 stdout F \n",
        b"2026-11-27T22:47:58Z stdout F with spaces  inside\n",
        b"torn",
    ]
    entries = list(join_partials(parse_records(lines)))
    assert [(e.stream, e.message) for e in entries] == [
        ("stderr", b"err"),
        ("stdout", b"aaabbb"),
        ("stdout", b"with spaces  inside"),
    ]
    assert entries[1].time_ns == parse_time_ns("2026-11-27T22:47:57.933096793Z")
    assert entries[1].timestamp() == "2026-11-27T22:47:57.933096793Z"
    assert parse_time_ns("2026-11-27T23:47:58+01:00") == parse_time_ns("2026-11-27T22:47:58Z")
    assert LogRecord(0, "stdout", False, b"").data == b""


def test_log_options_and_etc_files(tmp_path):
    from engine.api.models import ContainerCreate
    from engine.runtime import bundle

    assert bundle.size_option("10m") == 10 * 1024 * 1024
    assert bundle.size_option("512k") == 512 * 1024
    assert bundle.size_option("2048") == 2048
    config = ContainerCreate.model_validate(
        {
            "HostConfig": {
                "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "3"}}
            }
        }
    )
    assert bundle.log_limits(config) == (1024 * 1024, 3)
    assert bundle.log_limits(ContainerCreate()) == (
        bundle.DEFAULT_LOG_MAX_SIZE,
        bundle.DEFAULT_LOG_MAX_FILES,
    )
    mounts = bundle.write_etc_files(
        tmp_path, "web", read_only=True, overrides={"/etc/resolv.conf": "nameserver 127.0.0.11\n"}
    )
    by_target = {mount["destination"]: mount for mount in mounts}
    assert (tmp_path / "etc_hostname").read_text() == "web\n"
    assert "127.0.1.1\tweb" in (tmp_path / "etc_hosts").read_text()
    assert (tmp_path / "etc_resolv.conf").read_text() == "nameserver 127.0.0.11\n"
    assert by_target["/etc/hosts"]["options"] == ["rbind", "rprivate", "ro"]


def test_reading_rotated_files_in_order_with_since_and_until(tmp_path):
    from engine.runtime.logs import iter_entries, log_files, read_entries, rotate

    log = tmp_path / "container.log"

    def write(path, seconds, text, partial=False):
        with open(path, "ab") as file:
            tag = "P" if partial else "F"
            file.write(f"2026-01-01T00:00:{seconds:02d}.000000000Z stdout {tag} {text}\n".encode())

    write(log, 1, "one")
    write(log, 2, "two-", partial=True)
    rotate(log, 3)  # the line "two-..." continues in the new file
    write(log, 3, "end")
    rotate(log, 3)
    write(log, 4, "three")
    rotate(log, 3)  # the oldest file goes: at most 3 files
    write(log, 5, "four")
    assert [p.name for p in log_files(log)] == [
        "container.log.2",
        "container.log.1",
        "container.log",
    ]
    assert [e.message for e in iter_entries(log)] == [b"end", b"three", b"four"]
    base = 1767225600 * 1_000_000_000  # 2026-01-01T00:00:00Z
    window = [
        e.message for e in iter_entries(log, since_ns=base + 4 * 10**9, until_ns=base + 4 * 10**9)
    ]
    assert window == [b"three"]
    entries, offset, inode = read_entries(log, tail=1)
    assert [e.message for e in entries] == [b"four"] and offset == log.stat().st_size
    assert inode == log.stat().st_ino


def test_null_members_of_a_docker_body_take_their_defaults():
    from engine.api.models import ContainerCreate

    body = {
        "Cmd": None,
        "Entrypoint": None,
        "Healthcheck": None,
        "HostConfig": {
            "Memory": None,
            "Binds": None,
            "RestartPolicy": {"Name": "always", "MaximumRetryCount": None},
        },
    }
    config = ContainerCreate.model_validate(body)
    assert config.cmd is None and config.entrypoint is None
    # Go's nil slice stays None (the body dumps back as sent); readers take `or []`
    assert config.host_config.memory == 0 and config.host_config.binds is None
    assert config.host_config.restart_policy is not None
    assert config.host_config.restart_policy.name == "always"
    assert config.host_config.restart_policy.maximum_retry_count == 0


def test_docker_files_are_written_inside_the_root_only(tmp_path):
    from engine.runtime.bundle import write_docker_files

    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "etc").symlink_to(outside)  # absolute: resolved inside the root, not the host
    (root / ".dockerenv").symlink_to(outside / "planted")
    write_docker_files(str(root))
    assert list(outside.iterdir()) == []
    assert (root / ".dockerenv").is_file() and not (root / ".dockerenv").is_symlink()
    assert (root / ".dockerenv").stat().st_size == 0
    assert (root / ".dockerenv").stat().st_mode & 0o777 == 0o755
    # /etc -> <outside> names a missing directory inside the root: no /etc/mtab then
    assert not (root / str(outside).lstrip("/")).exists()
    plain = tmp_path / "plain"
    (plain / "etc").mkdir(parents=True)
    (plain / "etc" / "mtab").write_text("image's own\n")
    write_docker_files(str(plain))
    assert os.readlink(plain / "etc" / "mtab") == "/proc/mounts"


def test_runc_exec_failure_is_recognised_only_when_it_is_one():
    from engine.runtime.exec_session import could_be_start_failure, start_failure_message

    line = (
        b'time="2026-01-01T00:00:00Z" level=error msg="exec failed: unable to start container '
        b'process: exec: \\"nosuch\\": executable file not found in $PATH"\n'
    )
    assert all(could_be_start_failure(line[:end]) for end in range(len(line) + 1))
    assert start_failure_message(line) == (
        'exec failed: unable to start container process: exec: "nosuch": executable file '
        "not found in $PATH"
    )
    assert not could_be_start_failure(b"oops\n")
    assert not could_be_start_failure(b'time="now" level=info msg="starting"\n')
    assert start_failure_message(line + b"more output\n") is None
