"""Where credentials come from, read without a server (pure: files and environment only)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from hotfix_operator.kube import credentials
from hotfix_operator.kube.credentials import load_credentials


def kubeconfig(cluster: dict[str, object], user: dict[str, object], context: str = "one") -> dict[str, object]:
    return {
        "current-context": context,
        "contexts": [{"name": "one", "context": {"cluster": "c", "user": "u", "namespace": "payments"}}],
        "clusters": [{"name": "c", "cluster": {"server": "https://api.example:6443/", **cluster}}],
        "users": [{"name": "u", "user": user}],
    }


def test_in_a_pod_the_service_account_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("projected\n")
    (tmp_path / "ca.crt").write_text("ca")
    (tmp_path / "namespace").write_text("hotfix-system")
    monkeypatch.setattr(credentials, "SERVICE_ACCOUNT_DIR", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    found = load_credentials()
    assert found.server == "https://[fd00::1]:443"
    assert found.ca_file == str(tmp_path / "ca.crt")
    assert found.default_namespace == "hotfix-system"
    assert found.bearer_token() == "projected"


def test_relative_paths_are_relative_to_their_kubeconfig_and_the_first_file_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    first, second = tmp_path / "a" / "config", tmp_path / "b" / "config"
    first.parent.mkdir()
    second.parent.mkdir()
    first.write_text(yaml.safe_dump(kubeconfig({"certificate-authority": "ca.pem"}, {"tokenFile": "token"})))
    other = kubeconfig({}, {"token": "ignored"}, context="two")
    second.write_text(yaml.safe_dump(other))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    found = load_credentials()
    assert found.server == "https://api.example:6443"
    assert found.ca_file == str(first.parent / "ca.pem")
    assert found.token_file == str(first.parent / "token")
    assert found.default_namespace == "payments"


def test_inline_client_certificates_go_to_private_files(tmp_path: Path) -> None:
    cert, key = base64.b64encode(b"CERT").decode(), base64.b64encode(b"KEY").decode()
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig({}, {"client-certificate-data": cert, "client-key-data": key})))
    found = load_credentials(str(path))
    assert found.client_cert is not None
    cert_file, key_file = (Path(name) for name in found.client_cert)
    assert (cert_file.read_bytes(), key_file.read_bytes()) == (b"CERT", b"KEY")
    assert cert_file.parent.stat().st_mode & 0o077 == 0


def test_no_credentials_at_all_is_said_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(credentials.CredentialsError, match="no KUBECONFIG"):
        load_credentials()
