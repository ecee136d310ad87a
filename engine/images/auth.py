"""Registry credentials and the authentication flow (anonymous, basic, bearer token).

Credentials come from a Docker ``config.json`` (path injectable; ``$DOCKER_CONFIG/
config.json`` or ``~/.docker/config.json`` by default): ``auths``, and the credential
helpers of ``credHelpers`` / ``credsStore``.

:class:`RegistryAuth` is an ``httpx.Auth``: it sends a request with whatever it
already knows for that repository; on ``401`` it reads the ``WWW-Authenticate``
challenge and either answers with Basic credentials or fetches a bearer token
from the challenge's realm (service + scopes, with Basic credentials when there
are some), then retries once. Tokens are cached per (repository, pull|push), so
uploads with a body are normally sent with a valid token the first time.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import subprocess
from collections.abc import AsyncGenerator, Mapping
from pathlib import Path

import httpx

from engine.images.errors import AuthError

_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_REPO_RE = re.compile(r"/v2/(.+?)/(?:manifests|blobs|tags)/")


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def default_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _auth_key_host(key: str) -> str:
    key = key.removeprefix("https://").removeprefix("http://")
    host = key.split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def load_credentials(config_path: Path | None = None) -> dict[str, Credentials]:
    """Registry host -> credentials from a Docker config file.

    ``auths`` entries give them inline (``auth`` = base64 user:password, or
    ``username``/``password``); hosts named in ``credHelpers``, and with ``credsStore``
    every host listed in ``auths``, ask the helper program ``docker-credential-<name>
    get`` (run once here, when the registry client starts).
    """
    path = config_path or default_config_path()
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AuthError(f"cannot read registry credentials from {path}: {exc}") from exc
    out: dict[str, Credentials] = {}
    helpers: dict[str, tuple[str, str]] = {}  # host -> (helper, key as written)
    store = doc.get("credsStore")
    for key, entry in (doc.get("auths") or {}).items():
        if not isinstance(entry, dict):
            continue
        host = _auth_key_host(key)
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError as exc:
                raise AuthError(
                    f"{path}: the 'auth' of {key!r} is not base64 user:password"
                ) from exc
            out[host] = Credentials(user, password)
        elif entry.get("username"):
            out[host] = Credentials(entry["username"], entry.get("password", ""))
        elif store:
            helpers[host] = (store, key)
    for key, helper in (doc.get("credHelpers") or {}).items():
        helpers[_auth_key_host(key)] = (helper, key)
    for host, (helper, key) in helpers.items():
        credentials = _from_helper(helper, key)
        if credentials is not None:
            out[host] = credentials
    return out


def _from_helper(helper: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-<helper> get`` for ``server``; None when it has nothing."""
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run(
            [program, "get"], input=server.encode(), capture_output=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise AuthError(
            f"the credential helper {program} named in the Docker config is not installed"
        ) from None
    except subprocess.TimeoutExpired:
        raise AuthError(f"the credential helper {program} did not answer") from None
    if result.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        answer = json.loads(result.stdout)
        return Credentials(str(answer["Username"]), str(answer["Secret"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthError(f"the credential helper {program} answered something else: {exc}") from exc


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM_RE.finditer(rest)
    }
    return scheme.lower(), params


def _may_receive_credentials(realm: httpx.URL, registry: httpx.URL) -> bool:
    """Whether a token realm may get the registry's Basic credentials.

    The realm comes from the registry's answer: over HTTPS the credentials are protected on
    the way, and the registry's own host already has them; a plain-HTTP realm elsewhere
    would get the password in clear, so the token is asked for anonymously instead.
    """
    return realm.scheme == "https" or realm.host == registry.host


class RegistryAuth(httpx.Auth):
    """Challenge-driven auth for one registry host."""

    def __init__(self, credentials: Credentials | None = None) -> None:
        self.credentials = credentials
        self._headers: dict[tuple[str, bool], str] = {}
        self._basic_known = False
        self.extra_scopes: dict[str, set[str]] = {}

    def add_scope(self, repository: str, scope: str) -> None:
        """Ask for ``scope`` too whenever a token is fetched for ``repository`` (mounts)."""
        self.extra_scopes.setdefault(repository, set()).add(scope)

    @staticmethod
    def _key(request: httpx.Request) -> tuple[str, bool]:
        match = _REPO_RE.search(request.url.path)
        return (match.group(1) if match else "", request.method not in ("GET", "HEAD"))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        key = self._key(request)
        cached = self._headers.get(key)
        if cached is None and self._basic_known and self.credentials:
            cached = self.credentials.basic()
        if cached:
            request.headers["Authorization"] = cached
        response = yield request
        if response.status_code != 401:
            return
        header = response.headers.get("www-authenticate", "")
        scheme, params = parse_challenge(header)
        if scheme == "basic":
            if self.credentials is None:
                raise AuthError(
                    f"{request.url.host}: the registry wants a user name and password; "
                    "log in (credentials in ~/.docker/config.json 'auths')"
                )
            if cached == self.credentials.basic():
                raise AuthError(f"{request.url.host}: user name or password refused")
            self._basic_known = True
            request.headers["Authorization"] = self.credentials.basic()
        elif scheme == "bearer":
            realm = params.get("realm")
            if not realm:
                raise AuthError(f"{request.url.host}: bearer challenge without a realm: {header!r}")
            scopes = set(filter(None, params.get("scope", "").split(" ")))
            scopes |= self.extra_scopes.get(key[0], set())
            query: list[tuple[str, str | int | float | bool | None]] = []
            if params.get("service"):
                query.append(("service", params["service"]))
            query += [("scope", s) for s in sorted(scopes)]
            token_request = httpx.Request("GET", realm, params=query)
            if self.credentials and _may_receive_credentials(token_request.url, request.url):
                token_request.headers["Authorization"] = self.credentials.basic()
            token_response = yield token_request
            await token_response.aread()
            if token_response.status_code != 200:
                raise AuthError(
                    f"token service {realm} refused ({token_response.status_code}): "
                    f"{token_response.text[:200]}"
                )
            try:
                body = token_response.json()
                token = body.get("token") or body.get("access_token")
            except ValueError:
                token = None
            if not token:
                raise AuthError(f"token service {realm} sent no token")
            self._headers[key] = f"Bearer {token}"
            request.headers["Authorization"] = f"Bearer {token}"
        else:
            raise AuthError(f"{request.url.host}: unsupported authentication scheme {header!r}")
        retry = yield request
        if retry.status_code == 401:
            raise AuthError(
                f"{request.url.host}: access denied to {key[0] or request.url.path} "
                "(check credentials and the repository's permissions)"
            )


def auth_for(host: str, credentials: Mapping[str, Credentials]) -> RegistryAuth:
    return RegistryAuth(credentials.get(host))
