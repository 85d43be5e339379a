"""A Deployment's pod template as Git holds it, read from a Flux artifact (.tar.gz) like source-controller's."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest
import yaml

from hotfix_operator.kube.gitops.flux_artifact import ArtifactError, deployment_template


def artifact(files: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, documents in files.items():
            data = documents if isinstance(documents, bytes) else yaml.safe_dump_all(documents).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deployment(name: str, image: str, namespace: str | None = "shop") -> dict[str, Any]:
    metadata = {"name": name} | ({"namespace": namespace} if namespace else {})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}  # fmt: skip


def image_of(template: dict[str, Any] | None) -> str:
    assert template is not None
    return str(template["spec"]["containers"][0]["image"])


def test_the_deployment_is_found_under_the_path_among_other_documents() -> None:
    files = {
        "apps/shop/web.yaml": [{"kind": "Service", "metadata": {"name": "web"}}, deployment("web", "app:1.1")],
        "apps/other/web.yaml": [deployment("web", "app:9", namespace="other")],
        "infra/web.yaml": [deployment("web", "app:0.1")],
    }
    assert image_of(deployment_template(artifact(files), "./apps", "shop", "web")) == "app:1.1"
    assert deployment_template(artifact(files), "./infra/none", "shop", "web") is None
    # Outside the Kustomization's path: not what it applies.
    assert deployment_template(artifact({"infra/web.yaml": [deployment("web", "a")]}), "./apps", "shop", "web") is None


def test_a_manifest_without_namespace_is_the_one_applied_into_the_namespace() -> None:
    files = {"web.yaml": [deployment("web", "app:1.0", namespace=None)]}
    assert image_of(deployment_template(artifact(files), "./", "shop", "web")) == "app:1.0"


def test_the_kustomization_images_transformer_is_applied() -> None:
    files = {
        "apps/web.yaml": [deployment("web", "registry.example/app:1.0")],
        "apps/kustomization.yaml": [
            {"resources": ["web.yaml"], "images": [{"name": "registry.example/app", "newTag": "1.1"}]}
        ],
    }
    assert image_of(deployment_template(artifact(files), "apps", "shop", "web")) == "registry.example/app:1.1"
    files["apps/kustomization.yaml"] = [{"images": [{"name": "registry.example/app", "newName": "mirror/app",
                                                     "digest": "sha256:abc"}]}]  # fmt: skip
    assert image_of(deployment_template(artifact(files), "apps", "shop", "web")) == "mirror/app@sha256:abc"


def test_a_broken_artifact_or_manifest_is_an_error_not_a_verdict() -> None:
    with pytest.raises(ArtifactError):
        deployment_template(b"not a tarball", "./", "shop", "web")
    with pytest.raises(ArtifactError):
        deployment_template(artifact({"web.yaml": b"kind: [unclosed"}), "./", "shop", "web")
