"""develop.watch rules (pure): dockerignore-style patterns, what a batch of changes asks for."""

from __future__ import annotations

import pytest

from compose.watch.rules import (
    PatternMatcher,
    directory_skipped,
    make_rule,
    plan_batch,
    watched_roots,
)


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        (["*.tmp"], "/src/a.tmp", True),
        (["*.tmp"], "/src/sub/a.tmp", False),  # "*" stays in one directory
        (["**/*.tmp"], "/src/sub/deeper/a.tmp", True),
        (["**/*.tmp"], "/src/a.tmp", True),  # "**/" also matches no directory
        (["node_modules"], "/src/node_modules/x/y.js", True),  # a directory covers its tree
        (["node_modules/"], "/src/node_modules/x.js", True),
        (["build", "!build/keep.txt"], "/src/build/keep.txt", False),
        (["build", "!build/keep.txt"], "/src/build/other.txt", True),
        (["!a.txt", "*.txt"], "/src/a.txt", True),  # the last matching pattern wins
        (["a?c"], "/src/abc", True),
        (["a?c"], "/src/a/c", False),
        (["[ab].txt"], "/src/b.txt", True),
        (["[!ab].txt"], "/src/c.txt", True),
        (["[!ab].txt"], "/src/a.txt", False),
        (["# a comment", ""], "/src/# a comment", False),
        # an absolute pattern is a host path, as docker compose makes them
        (["/src/abs.txt"], "/src/abs.txt", True),
        (["/abs.txt"], "/src/abs.txt", False),
        (["../outside"], "/outside", True),
    ],
)
def test_patterns_match_like_dockerignore(patterns: list[str], path: str, expected: bool) -> None:
    assert PatternMatcher.compile("/src", patterns).matches(path) is expected


def test_a_rule_maps_host_paths_below_its_path_to_the_target() -> None:
    r = make_rule("web", 0, "sync", "/p/src/", "/app")
    mapping = r.matches("/p/src/lib/a.py")
    assert mapping is not None and mapping.container == "/app/lib/a.py"
    root = r.matches("/p/src")
    assert root is not None and root.container == "/app"
    assert r.matches("/p/srcx/a.py") is None  # a sibling with the same prefix is not below
    assert r.matches("/p/other.py") is None


def test_ignore_include_dockerignore_git_and_editor_files() -> None:
    r = make_rule(
        "web",
        0,
        "sync",
        "/p/src",
        "/app",
        ignore=["*.log"],
        include=["*.py", "lib"],
        context="/p",
        dockerignore=["src/secret.py"],
    )
    assert r.matches("/p/src/a.py") is not None
    assert r.matches("/p/src/lib/deep/x.txt") is not None  # included with its directory
    assert r.matches("/p/src/a.txt") is None  # not included
    assert r.matches("/p/src/a.log") is None
    assert r.matches("/p/src/secret.py") is None  # the build context's .dockerignore
    assert r.matches("/p/src/.git/HEAD") is None
    assert r.matches("/p/src/.a.py.swp") is None
    assert r.matches("/p/src/a.py~") is None
    assert r.matches("/p/src/4913") is None


def test_a_batch_in_docker_compose_order_and_deduplicated() -> None:
    rules = [
        make_rule("web", 0, "sync", "/p/src", "/app"),
        make_rule("web", 1, "sync+exec", "/p/assets", "/assets"),
        make_rule("api", 0, "sync+restart", "/p/api", "/srv"),
        make_rule("api", 1, "restart", "/p/api.conf", None),
        make_rule("worker", 0, "rebuild", "/p/worker", None),
        make_rule("worker", 1, "sync", "/p/src", "/w"),
    ]
    plan = plan_batch(
        rules,
        [
            "/p/src/a.py",
            "/p/src/a.py",
            "/p/assets/x.css",
            "/p/assets/y.css",
            "/p/api/main.go",
            "/p/api.conf",
            "/p/worker/Dockerfile",
            "/p/unrelated",
        ],
    )
    assert plan.rebuild == ["worker"]
    # the rebuilt service's sync is moot: its container is recreated from the new image
    assert sorted(plan.sync) == ["api", "web"]
    assert [m.container for m, _ in plan.sync["web"]] == [
        "/assets/x.css",
        "/assets/y.css",
        "/app/a.py",
    ]
    assert plan.restart == ["api"]
    assert [r.index for r in plan.exec["web"]] == [1]  # one hook run for two files


def test_nothing_to_do_for_paths_no_rule_wants() -> None:
    rules = [make_rule("web", 0, "sync", "/p/src", "/app", ignore=["*.tmp"])]
    assert plan_batch(rules, ["/p/src/a.tmp", "/p/elsewhere"]).empty


def test_watched_roots_fold_nested_paths() -> None:
    rules = [
        make_rule("a", 0, "sync", "/p/src", "/x"),
        make_rule("b", 0, "sync", "/p/src/sub", "/y"),
        make_rule("c", 0, "rebuild", "/p/Dockerfile", None),
    ]
    assert watched_roots(rules) == ["/p/Dockerfile", "/p/src"]


def test_directories_every_rule_ignores_get_no_watch() -> None:
    rules = [make_rule("web", 0, "sync", "/p/src", "/app", ignore=["node_modules"])]
    assert directory_skipped(rules, "/p/src/node_modules")
    assert directory_skipped(rules, "/p/src/.git")
    assert not directory_skipped(rules, "/p/src/lib")
    assert not directory_skipped(rules, "/p")  # on the way to a watched path
    assert directory_skipped(rules, "/elsewhere")
    # a "!" pattern could take back something below: watched to be sure
    keep = [make_rule("web", 0, "sync", "/p/src", "/app", ignore=["dist", "!dist/keep"])]
    assert not directory_skipped(keep, "/p/src/dist")
