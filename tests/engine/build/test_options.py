"""compose ``build:`` sections and ``POST /build`` queries -> BuildOptions (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api.errors import InvalidParameter, Unsupported
from engine.build.options import options_from_compose, options_from_query

PROJECT = Path("/projects/shop")


def test_every_compose_key():
    context, options = options_from_compose(
        {
            "context": "web",
            "dockerfile": "docker/Dockerfile.prod",
            "args": {"VERSION": "1.2", "FROM_ENV": None, "MISSING": None},
            "target": "runtime",
            "labels": {"team": "web"},
            "tags": ["registry.local/web:1.2", "shop-web"],
            "no_cache": True,
            "pull": True,
            "network": "host",
            "extra_hosts": ["db:10.0.0.5", "cache=10.0.0.6", "v6:[::1]"],
            "shm_size": 67108864,
            "additional_contexts": {"assets": "../assets"},
        },
        project_dir=PROJECT,
        image="shop-web",
        environment={"FROM_ENV": "yes"},
    )
    assert context == Path("/projects/shop/web")
    assert options.dockerfile == "docker/Dockerfile.prod"
    assert options.build_args == {"VERSION": "1.2", "FROM_ENV": "yes"}
    assert options.target == "runtime"
    assert options.labels == {"team": "web"}
    assert options.tags == ("shop-web", "registry.local/web:1.2")
    assert options.no_cache and options.pull
    assert options.network == "host" and options.network_name is None
    assert options.extra_hosts == ("db:10.0.0.5", "cache:10.0.0.6", "v6:::1")
    assert options.shm_size == 64 << 20
    assert options.additional_contexts == {"assets": Path("/projects/shop/assets")}


def test_compose_defaults_and_inline_dockerfile():
    context, options = options_from_compose(
        {"dockerfile_inline": "FROM scratch\n"}, project_dir=PROJECT, image=None
    )
    assert context == PROJECT
    assert options.dockerfile_inline == "FROM scratch\n"
    assert options.dockerfile == "Dockerfile"
    assert options.tags == ()
    assert (options.network, options.no_cache, options.target) == ("default", False, None)


@pytest.mark.parametrize(
    ("network", "expected"),
    [("none", ("none", None)), ("default", ("default", None)), ("backend", ("default", "backend"))],
)
def test_compose_networks(network, expected):
    _, options = options_from_compose({"network": network}, project_dir=PROJECT, image="x")
    assert (options.network, options.network_name) == expected


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ({"ssh": ["default"]}, "build.ssh needs BuildKit"),
        ({"secrets": [{"source": "s"}]}, "build.secrets needs BuildKit"),
        ({"context": "https://github.com/x/y.git"}, "remote contexts are not supported"),
        ({"dockerfile": "/elsewhere/Dockerfile"}, "outside the build context"),
        ({"extra_hosts": ["nohost"]}, "invalid extra host"),
        ({"network": "container:db"}, "is not supported"),
        ({"additional_contexts": {"base": "docker-image://alpine"}}, "only local directories"),
    ],
)
def test_compose_refusals(build, message):
    with pytest.raises(InvalidParameter, match=message):
        options_from_compose(build, project_dir=PROJECT, image="x")


def test_api_query():
    options = options_from_query(
        {
            "dockerfile": ["sub/Dockerfile"],
            "t": ["a:1", "b"],
            "buildargs": ['{"A": "1", "B": null}'],
            "labels": ['{"l": "v"}'],
            "target": ["final"],
            "nocache": ["1"],
            "pull": ["true"],
            "networkmode": ["none"],
            "extrahosts": ["h1:1.2.3.4,h2:5.6.7.8"],
            "shmsize": ["1024"],
            "platform": ["linux/amd64"],
            "rm": ["1"],
            "q": ["0"],
        }
    )
    assert options.dockerfile == "sub/Dockerfile"
    assert options.tags == ("a:1", "b")
    assert options.build_args == {"A": "1"}
    assert options.labels == {"l": "v"}
    assert options.target == "final"
    assert options.no_cache and options.pull
    assert options.network == "none"
    assert options.extra_hosts == ("h1:1.2.3.4", "h2:5.6.7.8")
    assert options.shm_size == 1024
    assert options.platform == "linux/amd64"
    defaults = options_from_query({})
    assert (defaults.dockerfile, defaults.network, defaults.no_cache) == (
        "Dockerfile",
        "default",
        False,
    )


def test_api_query_refuses_buildkit_and_bad_values():
    with pytest.raises(Unsupported, match="BuildKit") as info:
        options_from_query({"version": ["2"]})
    assert "DOCKER_BUILDKIT=0" in (info.value.hint or "")
    with pytest.raises(InvalidParameter, match="buildargs: not valid JSON"):
        options_from_query({"buildargs": ["{"]})
    with pytest.raises(InvalidParameter, match="shmsize"):
        options_from_query({"shmsize": ["lots"]})
    with pytest.raises(InvalidParameter, match="remote build contexts"):
        options_from_query({"remote": ["https://example.invalid/x.git"]})
