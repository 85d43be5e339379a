"""The operator's own API client and credentials, against the real API server of the test bed."""

from __future__ import annotations

import base64
import json
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotfix_operator.kube.api import ApiError, KubeApi
from hotfix_operator.kube.credentials import CredentialsError, load_credentials
from hotfix_operator.testbed.stack import TestBedState

pytestmark = pytest.mark.real


def bed_config(state: TestBedState) -> tuple[dict[str, Any], str, str]:
    """The test bed's kubeconfig, its CA file and its token."""
    config = yaml.safe_load(Path(state.kubeconfig).read_text())
    return config, config["clusters"][0]["cluster"]["certificate-authority"], config["users"][0]["user"]["token"]


def written(tmp_path: Path, config: dict[str, Any], cluster: dict[str, Any], user: dict[str, Any]) -> str:
    variant = json.loads(json.dumps(config))
    variant["clusters"][0]["cluster"] = {"server": config["clusters"][0]["cluster"]["server"], **cluster}
    variant["users"][0]["user"] = user
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(variant))
    return str(path)


def exec_plugin(tmp_path: Path, token: str, expires: datetime | None) -> dict[str, Any]:
    """A credential plugin that prints an ExecCredential and counts its runs, as aws/gke helpers do."""
    script = tmp_path / "credential-helper"
    status: dict[str, Any] = {"token": token}
    if expires is not None:
        status["expirationTimestamp"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, pathlib\n"
        f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "runs.write_text(str(int(runs.read_text() or 0) + 1) if runs.exists() else '1')\n"
        "assert json.loads(os.environ['KUBERNETES_EXEC_INFO'])['kind'] == 'ExecCredential'\n"
        f"print(json.dumps({credential!r}))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script), "args": []}}


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_inline_ca_data_and_a_token(testbed_state: TestBedState, tmp_path: Path) -> None:
    config, ca_file, token = bed_config(testbed_state)
    ca_data = base64.b64encode(Path(ca_file).read_bytes()).decode()
    api = KubeApi(
        load_credentials(written(tmp_path, config, {"certificate-authority-data": ca_data}, {"token": token}))
    )
    assert api.get("/version")["major"]


@pytest.mark.parametrize(("expires_in", "plugin_runs"), [(timedelta(hours=1), 1), (timedelta(minutes=-1), 2)])
def test_an_exec_plugin_is_run_again_only_when_its_token_expired(
    testbed_state: TestBedState, tmp_path: Path, expires_in: timedelta, plugin_runs: int
) -> None:
    config, ca_file, token = bed_config(testbed_state)
    user = exec_plugin(tmp_path, token, datetime.now(UTC) + expires_in)
    api = KubeApi(load_credentials(written(tmp_path, config, {"certificate-authority": ca_file}, user)))
    api.get("/version")
    api.get("/api/v1/namespaces/default")
    assert runs(tmp_path) == plugin_runs


def test_a_rotated_token_file_is_read_again_at_the_first_refusal(testbed_state: TestBedState, tmp_path: Path) -> None:
    config, ca_file, token = bed_config(testbed_state)
    token_file = tmp_path / "token"
    token_file.write_text("not-a-valid-token\n")
    path = written(tmp_path, config, {"certificate-authority": ca_file}, {"tokenFile": str(token_file)})
    api = KubeApi(load_credentials(path))
    with pytest.raises(ApiError) as refused:
        api.get("/api/v1/namespaces/default")
    assert refused.value.status == 401
    token_file.write_text(token)  # the kubelet rotated it; the client still holds the old one
    assert api.get("/api/v1/namespaces/default")["metadata"]["name"] == "default"


def test_an_error_carries_the_servers_message(kube_api: KubeApi, namespace: str) -> None:
    with pytest.raises(ApiError) as missing:
        kube_api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/ghost")
    assert missing.value.status == 404
    assert missing.value.message == 'deployments.apps "ghost" not found'


def test_a_list_is_read_page_by_page(kube_api: KubeApi, namespace: str) -> None:
    for index in range(3):
        kube_api.create(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": f"page-{index}"}})
    items = kube_api.list_items(f"/api/v1/namespaces/{namespace}/configmaps", page_size=1)
    assert {"page-0", "page-1", "page-2"} <= {item["metadata"]["name"] for item in items}


def test_an_impersonated_service_account_gets_only_its_own_rights(kube_api: KubeApi, namespace: str) -> None:
    tenant = kube_api.impersonating(f"system:serviceaccount:{namespace}:nobody")
    with pytest.raises(ApiError) as refused:
        tenant.get(f"/api/v1/namespaces/{namespace}/secrets")
    assert refused.value.status == 403
    assert f"system:serviceaccount:{namespace}:nobody" in refused.value.message
    assert kube_api.get(f"/api/v1/namespaces/{namespace}/secrets")["kind"] == "SecretList"


def test_merge_and_json_patches(kube_api: KubeApi, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps/patched"
    kube_api.create(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "patched"}})
    kube_api.patch(path, {"data": {"a": "1"}})
    kube_api.patch(path, [{"op": "add", "path": "/data/b", "value": "2"}], "application/json-patch+json")
    assert kube_api.get(path)["data"] == {"a": "1", "b": "2"}
    kube_api.delete(path)
    with pytest.raises(ApiError):
        kube_api.get(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda config: config.pop("current-context"), "current-context"),
        (lambda config: config["contexts"][0]["context"].update(user="ghost"), "contexts[hotfix-local].user"),
        (lambda config: config["clusters"][0]["cluster"].pop("server"), "server"),
        (
            lambda config: config["clusters"][0]["cluster"].update({"certificate-authority-data": "%%%"}),
            "certificate-authority-data",
        ),
        (lambda config: config["users"][0]["user"].update({"client-certificate": "c.pem"}), "client-key"),
        (lambda config: config["users"][0]["user"].update({"exec": {"args": []}}), "exec.command"),
        (lambda config: config["users"][0]["user"].update({"username": "admin"}), "basic auth"),
        (
            lambda config: config["users"][0]["user"].update({"exec": {"command": "helper", "env": [{"name": "A"}]}}),
            "exec.env",
        ),
    ],
)
def test_a_broken_kubeconfig_names_the_field(
    testbed_state: TestBedState, tmp_path: Path, change: Any, field: str
) -> None:
    config, _, _ = bed_config(testbed_state)
    config["clusters"][0]["cluster"].pop("certificate-authority")
    change(config)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(CredentialsError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_credentials(str(path))
