"""The build context: .dockerignore rules (moby/patternmatcher), COPY sources, file digests."""

from __future__ import annotations

import io
import tarfile

import pytest

from engine.build.context import (
    BuildContext,
    extract_context_tar,
    is_excluded,
    parse_dockerignore,
    receive_context,
)
from engine.build.dockerfile import DockerfileError

# (patterns, path, excluded)
CASES = [
    ("*.log", "a.log", True),
    ("*.log", "dir/a.log", False),  # * does not cross directories
    ("**/*.log", "dir/sub/a.log", True),
    ("**/*.log", "a.log", True),  # ** is zero or more directories
    ("dir/**", "dir/a/b", True),
    ("dir/**", "dir", False),
    ("dir/**/x", "dir/x", True),
    ("dir/**/x", "dir/a/b/x", True),
    ("dir", "dir/a/b", True),  # a parent directory matches
    ("/dir", "dir/a", True),  # leading slash means nothing
    ("dir/", "dir/a", True),  # trailing slash means nothing
    ("./dir/../other", "other/x", True),  # cleaned
    ("a?c", "abc", True),
    ("a?c", "a/c", False),
    ("[ab]x", "bx", True),
    ("[^ab]x", "cx", True),  # a Go regexp class: ^ negates
    ("\\*x", "*x", True),
    ("\\*x", "ax", False),
    ("a.b", "axb", False),  # . is literal
    ("*\n!keep.log", "keep.log", False),
    ("*.log\n!keep.log", "keep.log", False),
    ("*.log\n!keep.log\n*.log", "keep.log", True),  # the last match wins
    ("dir\n!dir/keep", "dir/keep", False),
    ("dir\n!dir/keep", "dir/other", True),
    ("# comment\n\n   \n*.tmp", "x.tmp", True),
    ("  *.tmp  ", "x.tmp", True),
    ("!x", "x", False),
    ("", "anything", False),
    ("**", "a/b/c", True),
    ("*/b", "a/b/c", True),
]


@pytest.mark.parametrize(("patterns", "path", "excluded"), CASES)
def test_dockerignore_patterns(patterns, path, excluded):
    assert is_excluded(path, parse_dockerignore(patterns)) is excluded


def test_bare_exclamation_is_an_error():
    with pytest.raises(DockerfileError, match="illegal exclusion pattern"):
        parse_dockerignore("!\n")


@pytest.fixture
def context_dir(tmp_path):
    root = tmp_path / "ctx"
    (root / "src/sub").mkdir(parents=True)
    (root / "src/a.py").write_text("a")
    (root / "src/b.py").write_text("b")
    (root / "src/sub/c.py").write_text("c")
    (root / "src/notes.log").write_text("log")
    (root / "secret.key").write_text("key")
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "src/link").symlink_to("a.py")
    (root / ".dockerignore").write_text("*.key\n**/*.log\nDockerfile\n")
    return root


def test_sources_globs_and_exclusions(context_dir):
    context = BuildContext(context_dir)
    assert context.sources("src/*.py", line=3, file="Dockerfile") == ["src/a.py", "src/b.py"]
    assert context.sources("/src", line=3, file="Dockerfile") == ["src"]
    assert context.sources("./src/sub/../a.py", line=3, file="Dockerfile") == ["src/a.py"]
    assert list(context.walk("src")) == [
        "src/a.py",
        "src/b.py",
        "src/link",
        "src/sub",
        "src/sub/c.py",
    ]
    # the Dockerfile is read even when excluded
    assert context.read_dockerfile("Dockerfile") == "FROM scratch\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("secret.key", "excluded by .dockerignore"),
        ("missing.txt", "it does not exist"),
        ("*.nothing", "not found in the build context"),
        ("../outside", "forbidden path outside the build context"),
        ("src/../../x", "forbidden path outside the build context"),
    ],
)
def test_bad_sources_cite_the_line(context_dir, source, message):
    context = BuildContext(context_dir)
    with pytest.raises(DockerfileError) as info:
        context.sources(source, line=9, file="Dockerfile")
    assert str(info.value).startswith("Dockerfile:9: ")
    assert message in str(info.value)


def test_sources_through_a_link_to_outside_are_refused(context_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host secret")
    (context_dir / "escape").symlink_to(outside)
    context = BuildContext(context_dir)
    for source in ("escape/secret", "escape/*"):
        with pytest.raises(DockerfileError, match="forbidden path outside the build context"):
            context.sources(source, line=4, file="Dockerfile")
    # a source that is a link is followed inside the context (where nothing is)
    with pytest.raises(DockerfileError, match='Dockerfile:4: "escape" is a link to'):
        context.sources("escape", line=4, file="Dockerfile")
    (context_dir / "inner").symlink_to("src/a.py")
    assert context.sources("inner", line=4, file="Dockerfile") == ["inner"]
    assert context.follow("inner") == "src/a.py"
    (context_dir / "hidden").symlink_to("secret.key")
    with pytest.raises(DockerfileError, match=r"excluded by \.dockerignore"):
        context.sources("hidden", line=4, file="Dockerfile")


def test_files_digest_changes_with_content_mode_and_names(context_dir):
    context = BuildContext(context_dir)
    first = context.files_digest(["src"])
    assert context.files_digest(["src"]) == first
    (context_dir / "src/notes.log").write_text("excluded files do not count")
    assert context.files_digest(["src"]) == first
    (context_dir / "src/a.py").write_text("changed")
    second = context.files_digest(["src"])
    assert second != first
    (context_dir / "src/a.py").chmod(0o600)
    assert context.files_digest(["src"]) != second
    (context_dir / "src/new.py").write_text("")
    assert context.files_digest(["src"]) not in (first, second)
    (context_dir / "via-link").symlink_to("src/b.py")
    linked = context.files_digest(["via-link"])
    (context_dir / "src/b.py").write_text("the target changed")
    assert context.files_digest(["via-link"]) != linked


def test_a_context_tar_is_unpacked_and_may_not_escape(tmp_path):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        info = tarfile.TarInfo("Dockerfile")
        content = b"FROM scratch\n"
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    data.seek(0)
    root = extract_context_tar(data, tmp_path / "ctx")
    assert BuildContext(root).read_dockerfile("Dockerfile") == "FROM scratch\n"
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../escape")
        tar.addfile(info, io.BytesIO(b""))
    evil.seek(0)
    with pytest.raises(DockerfileError, match="not a valid tar"):
        extract_context_tar(evil, tmp_path / "ctx2")
    assert not (tmp_path / "escape").exists()


def test_missing_dockerfile_says_what_to_do(context_dir):
    with pytest.raises(DockerfileError, match=r"cannot find web\.Dockerfile") as info:
        BuildContext(context_dir).read_dockerfile("web.Dockerfile")
    assert "-f" in (info.value.hint or "")


@pytest.mark.anyio
async def test_receive_context_spools_and_unpacks_a_tar_stream(tmp_path):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, content in (("Dockerfile", b"FROM scratch\n"), ("sub/file", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    raw = data.getvalue()

    async def chunks():
        for start in range(0, len(raw), 7):
            yield raw[start : start + 7]

    context = await receive_context(chunks(), tmp_path / "build")
    assert context.read_dockerfile("Dockerfile") == "FROM scratch\n"
    assert context.sources("sub/*", line=1, file="Dockerfile") == ["sub/file"]
    assert not (tmp_path / "build" / "context.tar").exists()


@pytest.fixture
def anyio_backend():
    return "asyncio"
