"""Secrets and configs as a user sees them in the container, under both tools and engines.

docker compose is the reference for where the files are and what they hold; pycompose
also honours uid, gid and mode for file sources, keeps every file read-only, and recreates
a container when a content changes (docker compose misses inline and environment ones).
"""

from __future__ import annotations

import textwrap

import pytest

from tests.e2e.conftest import IMAGE, Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]


def files_stack(stack: Stack, *, token: str = "from-env", inline: str = "inline") -> None:
    (stack.directory / "password.txt").write_text("from-file\n")
    (stack.directory / ".env").write_text(f"TOKEN={token}\n")
    stack.write(
        textwrap.dedent(f"""
            services:
              app:
                image: {IMAGE}
                command: ["sleep", "1000000"]
                stop_grace_period: 1s
                secrets:
                  - password
                  - {{source: token, target: nested/token, uid: "7", gid: "8", mode: 0440}}
                configs:
                  - {{source: settings, target: etc/app.conf, mode: 0600}}
                  - {{source: password_conf, target: /srv/password, uid: "5", mode: 0400}}
            secrets:
              password: {{file: ./password.txt}}
              token: {{environment: TOKEN}}
            configs:
              settings: {{content: "{inline} $${{NOT_INTERPOLATED}}"}}
              password_conf: {{file: ./password.txt}}
        """)
    )


def in_app(stack: Stack, script: str) -> str:
    return stack.pycompose("exec", "-T", "app", "sh", "-c", script).stdout


def test_secrets_and_configs_are_where_docker_compose_puts_them(stack: Stack):
    files_stack(stack)
    stack.pycompose("up", "-d")
    seen = in_app(
        stack,
        "cat /run/secrets/password /run/secrets/nested/token; echo; cat /etc/app.conf; echo;"
        " cat /srv/password; stat -c '%u %g %a' /run/secrets/nested/token /etc/app.conf",
    )
    # environment and content sources: owner and mode as given, under both tools
    assert seen.split("\n") == [
        "from-file",
        "from-env",
        "inline ${NOT_INTERPOLATED}",
        "from-file",
        "7 8 440",
        "0 0 600",
        "",
    ]


def test_an_external_secret_is_refused_outside_swarm(stack: Stack):
    stack.write(
        textwrap.dedent(f"""
            services:
              app: {{image: {IMAGE}, command: ["true"], secrets: [vault]}}
            secrets:
              vault: {{external: true}}
        """)
    )
    result = stack.pycompose("up", "-d", check=False)
    assert result.returncode != 0
    assert "unsupported external secret vault" in result.stdout + result.stderr


def test_files_are_read_only_copies_and_a_changed_content_recreates(pycompose_stack: Stack):
    stack = pycompose_stack
    files_stack(stack)
    stack.pycompose("up", "-d")
    attempts = "".join(
        f"(echo x > {path} || chmod 777 {path}) 2>/dev/null && echo writable {path};"
        for path in ("/run/secrets/password", "/run/secrets/nested/token", "/etc/app.conf")
    )
    # file sources get uid, gid and mode too; nothing is writable, not even by root
    assert in_app(
        stack, f"stat -c '%u %g %a' /srv/password /run/secrets/password; {attempts} true"
    ) == ("5 0 400\n0 0 444\n")
    assert stack.pycompose("up", "--dry-run").stdout.strip() == "nothing to do"
    files_stack(stack, token="rotated", inline="changed")
    (stack.directory / "password.txt").write_text("new password\n")
    plan = stack.pycompose("up", "--dry-run").stdout
    assert f"recreate container {stack.name}-app-1 (config password_conf content changed, " in plan
    assert "config settings content changed, secret password content changed" in plan
    assert in_app(stack, "cat /run/secrets/password") == "from-file\n"  # a copy, not a bind
    stack.pycompose("up", "-d")
    assert in_app(stack, "cat /run/secrets/nested/token /etc/app.conf /run/secrets/password") == (
        "rotatedchanged ${NOT_INTERPOLATED}new password\n"
    )


def test_a_missing_variable_is_refused_before_anything_is_made(pycompose_stack: Stack):
    stack = pycompose_stack
    files_stack(stack)
    (stack.directory / ".env").write_text("")
    result = stack.pycompose("up", "-d", check=False)
    assert result.returncode != 0
    assert (
        f'environment variable "TOKEN" required by secret "{stack.name}_token" is not set'
        in result.stderr
    )
    assert stack.ps() == []
