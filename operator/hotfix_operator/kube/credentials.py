"""Where the operator's Kubernetes credentials come from: the pod's ServiceAccount, else the kubeconfig.

The operator reads them itself rather than through the ``kubernetes`` package, which Kopf imports whenever it
is installed: 158 more modules and 4 MiB resident in the operator's process. One reading serves both Kopf's
watches (the login handler) and the operator's own calls, so the two always act as the same user.

Supported, as kubectl reads them: the ServiceAccount's projected token (read again as the kubelet rotates
it), and from the kubeconfig's current context a bearer token or ``tokenFile``, a client certificate and key
(paths or inline data), the CA (path or data) or ``insecure-skip-tls-verify``, ``proxy-url``, and an
``exec`` credential plugin (EKS, GKE, AKS, OIDC helpers) that gives a token, run again when it expires.
"""

from __future__ import annotations

import atexit
import base64
import functools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# A token file is read again after this long: the kubelet rotates a projected token well before it expires,
# and the kubernetes client refreshes on the same period.
TOKEN_FILE_REFRESH_SECONDS = 60.0
# An exec plugin's token is asked for again this long before the expiry it gave.
EXEC_EXPIRY_MARGIN_SECONDS = 30.0
EXEC_TIMEOUT_SECONDS = 60.0


class CredentialsError(Exception):
    """The kubeconfig or the ServiceAccount could not give credentials; the message names the field."""


@dataclass(frozen=True)
class ExecPlugin:
    """A kubeconfig ``users[].user.exec`` entry: a command that prints an ExecCredential."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"


@dataclass
class Credentials:
    server: str
    ca_file: str | None = None
    insecure: bool = False
    client_cert: tuple[str, str] | None = None
    token: str | None = None
    token_file: str | None = None
    exec_plugin: ExecPlugin | None = None
    default_namespace: str | None = None
    proxy_url: str | None = None
    _cached_token: tuple[str | None, float] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bearer_token(self) -> str | None:
        """The token to send now: the static one, the token file's current content, or the exec plugin's."""
        if self.token_file is None and self.exec_plugin is None:
            return self.token
        with self._lock:
            now = time.monotonic()
            if self._cached_token is None or now >= self._cached_token[1]:
                self._cached_token = self._fresh_token(now)
            return self._cached_token[0]

    def expire_token(self) -> None:
        """Forget the cached token (the API server refused it): the next call reads or asks for a new one."""
        with self._lock:
            self._cached_token = None

    def _fresh_token(self, now: float) -> tuple[str | None, float]:
        if self.token_file is not None:
            try:
                token = Path(self.token_file).read_text().strip()
            except OSError as error:
                raise CredentialsError(f"tokenFile {self.token_file}: {error.strerror}") from None
            return token or None, now + TOKEN_FILE_REFRESH_SECONDS
        assert self.exec_plugin is not None
        token, expires_in = run_exec_plugin(self.exec_plugin)
        return token, now + max(expires_in - EXEC_EXPIRY_MARGIN_SECONDS, 0.0)


def load_credentials(kubeconfig: str | None = None) -> Credentials:
    """In-cluster credentials when running in a pod (and no kubeconfig was named), else the kubeconfig:
    ``kubeconfig``, then KUBECONFIG, then ~/.kube/config, as kubectl looks for it."""
    if kubeconfig is None and in_cluster():
        return in_cluster_credentials()
    paths = kubeconfig_paths(kubeconfig)
    if not paths:
        raise CredentialsError("no credentials: not in a pod, no KUBECONFIG and no ~/.kube/config")
    return kubeconfig_credentials(paths)


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT_DIR / "token").exists()


def in_cluster_credentials() -> Credentials:
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    ca_file = SERVICE_ACCOUNT_DIR / "ca.crt"
    return Credentials(
        server=f"https://{host}:{port}",
        ca_file=str(ca_file) if ca_file.exists() else None,
        token_file=str(SERVICE_ACCOUNT_DIR / "token"),
        default_namespace=namespace_file.read_text().strip() if namespace_file.exists() else None,
    )


def kubeconfig_paths(kubeconfig: str | None) -> list[Path]:
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    listed = [Path(path).expanduser() for path in os.environ.get("KUBECONFIG", "").split(os.pathsep) if path]
    if listed:
        return listed
    default = Path("~/.kube/config").expanduser()
    return [default] if default.exists() else []


def kubeconfig_credentials(paths: list[Path]) -> Credentials:
    """The current context's cluster and user; with several files the first to set a name wins (kubectl's
    merge), and relative paths in a file are relative to that file."""
    current_context: str | None = None
    named: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {"contexts": {}, "clusters": {}, "users": {}}
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except OSError as error:
            raise CredentialsError(f"kubeconfig {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise CredentialsError(f"kubeconfig {path} is not YAML: {error}") from None
        current_context = current_context or document.get("current-context")
        for section, entries in named.items():
            singular = section[:-1]
            for entry in document.get(section) or []:
                entries.setdefault(entry.get("name"), (entry.get(singular) or {}, path.parent))
    if not current_context:
        raise CredentialsError("kubeconfig: current-context is not set")
    context, _ = _entry(named, "contexts", current_context, "current-context")
    cluster, cluster_dir = _entry(named, "clusters", context.get("cluster"), f"contexts[{current_context}].cluster")
    user, user_dir = _entry(named, "users", context.get("user"), f"contexts[{current_context}].user")
    server = cluster.get("server")
    if not server:
        raise CredentialsError(f"kubeconfig: clusters[{context.get('cluster')}].server is not set")
    return Credentials(
        server=str(server).rstrip("/"),
        ca_file=_file_or_data(cluster, "certificate-authority", cluster_dir),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        client_cert=_client_cert(user, user_dir),
        token=_static_token(user, context.get("user")),
        token_file=_relative(user["tokenFile"], user_dir) if user.get("tokenFile") else None,
        exec_plugin=_exec_plugin(user, context.get("user")),
        default_namespace=context.get("namespace"),
        proxy_url=cluster.get("proxy-url"),
    )


def _entry(
    named: dict[str, dict[str, tuple[dict[str, Any], Path]]], section: str, name: Any, field_name: str
) -> tuple[dict[str, Any], Path]:
    if name not in named[section]:
        raise CredentialsError(f"kubeconfig: {field_name} names {name!r}, which is not in {section}")
    return named[section][name]


def _relative(path: str, base: Path) -> str:
    return str(base / Path(path).expanduser())


def _file_or_data(entry: dict[str, Any], key: str, base: Path) -> str | None:
    """A path as given (relative to its kubeconfig), or the inline ``<key>-data`` written to a private file:
    TLS libraries take certificates and keys from files."""
    if entry.get(key):
        return _relative(entry[key], base)
    data = entry.get(f"{key}-data")
    if not data:
        return None
    try:
        return _private_file(base64.b64decode(data, validate=True))
    except ValueError:
        raise CredentialsError(f"kubeconfig: {key}-data is not base64") from None


def _client_cert(user: dict[str, Any], base: Path) -> tuple[str, str] | None:
    cert = _file_or_data(user, "client-certificate", base)
    key = _file_or_data(user, "client-key", base)
    if (cert is None) != (key is None):
        raise CredentialsError("kubeconfig: a client certificate needs both client-certificate and client-key")
    return (cert, key) if cert is not None and key is not None else None


def _static_token(user: dict[str, Any], user_name: Any) -> str | None:
    """The user's token, else the one a legacy ``auth-provider`` (oidc, gcp) left in the kubeconfig, as Kopf
    reads it; basic auth is refused by name (Kubernetes removed it in 1.19) rather than quietly not sent."""
    if user.get("username") or user.get("password"):
        raise CredentialsError(f"kubeconfig: users[{user_name}].username/password (basic auth) is not supported")
    provider = (user.get("auth-provider") or {}).get("config") or {}
    token = user.get("token") or provider.get("id-token") or provider.get("access-token")
    return str(token) if token else None


def _exec_plugin(user: dict[str, Any], user_name: Any) -> ExecPlugin | None:
    spec = user.get("exec")
    if not spec:
        return None
    if not spec.get("command"):
        raise CredentialsError(f"kubeconfig: users[{user_name}].exec.command is not set")
    env = spec.get("env") or []
    if any(not isinstance(item, dict) or "name" not in item or "value" not in item for item in env):
        raise CredentialsError(f"kubeconfig: users[{user_name}].exec.env needs a name and a value in every entry")
    return ExecPlugin(
        command=str(spec["command"]),
        args=tuple(str(arg) for arg in spec.get("args") or ()),
        env=tuple((str(item["name"]), str(item["value"])) for item in env),
        api_version=str(spec.get("apiVersion") or ExecPlugin.api_version),
    )


def run_exec_plugin(plugin: ExecPlugin) -> tuple[str, float]:
    """The plugin's token and how many seconds it is valid for (an hour when it gives no expiry)."""
    exec_info = {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    environment = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(exec_info)}
    try:
        finished = subprocess.run(
            [plugin.command, *plugin.args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=EXEC_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CredentialsError(f"exec credential plugin {plugin.command}: {error}") from None
    if finished.returncode != 0:
        raise CredentialsError(
            f"exec credential plugin {plugin.command} exited {finished.returncode}: {finished.stderr.strip()[:500]}"
        )
    try:
        status = json.loads(finished.stdout).get("status") or {}
    except (ValueError, AttributeError):
        raise CredentialsError(f"exec credential plugin {plugin.command} printed no ExecCredential") from None
    token = status.get("token")
    if not token:
        raise CredentialsError(f"exec credential plugin {plugin.command}: status.token is empty")
    return str(token), _seconds_until(status.get("expirationTimestamp"))


def _seconds_until(timestamp: Any) -> float:
    if not timestamp:
        return 3600.0
    try:
        expires = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        raise CredentialsError(f"exec credential: status.expirationTimestamp {timestamp!r} is not a time") from None
    return expires.timestamp() - time.time()


@functools.cache
def _private_dir() -> Path:
    """A directory only this user can read (mkdtemp's 0700), removed when the process ends."""
    directory = Path(tempfile.mkdtemp(prefix="hotfix-operator-credentials-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _private_file(content: bytes) -> str:
    descriptor, path = tempfile.mkstemp(dir=_private_dir())
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    return path
