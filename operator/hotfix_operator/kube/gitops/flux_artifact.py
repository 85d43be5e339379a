"""A Deployment's pod template as Git holds it, read from a Flux source artifact (a .tar.gz). Pure.

Plain manifests under the Kustomization's path are read as they are; the ``images:`` of the
kustomization.yaml files there are applied (how a release bumps an image in Git). Anything else kustomize
would generate or patch is not rendered: a Deployment not found as a plain manifest is reported as such.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from typing import Any

import yaml

KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
FILE_LIMIT_BYTES = 4 * 1024 * 1024


class ArtifactError(Exception):
    pass


def _under(member: str, root: str) -> bool:
    member = posixpath.normpath(member.lstrip("/"))
    return root in ("", ".") or member == root or member.startswith(root + "/")


def _documents(text: bytes, name: str) -> list[dict[str, Any]]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    except yaml.YAMLError as error:
        raise ArtifactError(f"{name}: {error}") from error


def _files(artifact: bytes, path: str) -> dict[str, bytes]:
    root = posixpath.normpath(path.lstrip("/")) if path.strip("./") else ""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(artifact), mode="r:gz") as archive:
            for member in archive.getmembers():
                base = posixpath.basename(member.name)
                wanted = base in KUSTOMIZATION_FILES or base.endswith(MANIFEST_SUFFIXES)
                if not member.isfile() or not wanted or not _under(member.name, root):
                    continue
                if member.size > FILE_LIMIT_BYTES:
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    files[member.name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArtifactError(f"not a .tar.gz artifact: {error}") from error
    return files


def _split_image(image: str) -> tuple[str, str]:
    """``name`` and the rest (``:tag``, ``@digest`` or both) of an image reference."""
    at = image.find("@")
    head, digest = (image[:at], image[at:]) if at >= 0 else (image, "")
    colon = head.rfind(":")
    if colon > head.rfind("/"):
        return head[:colon], head[colon:] + digest
    return head, digest


def _apply_images(template: dict[str, Any], images: list[dict[str, Any]]) -> None:
    """kustomize's images transformer: match by image name, replace name, tag or digest."""
    for list_name in ("initContainers", "containers"):
        for container in (template.get("spec") or {}).get(list_name) or []:
            name, rest = _split_image(str(container.get("image") or ""))
            for rule in images:
                if rule.get("name") != name:
                    continue
                new_name = rule.get("newName") or name
                if rule.get("digest"):
                    rest = "@" + str(rule["digest"])
                elif rule.get("newTag") is not None:
                    rest = ":" + str(rule["newTag"])
                container["image"] = new_name + rest


def deployment_template(artifact: bytes, path: str, namespace: str, name: str) -> dict[str, Any] | None:
    """The pod template of Deployment ``namespace/name`` under ``path`` in the artifact, None if absent."""
    found: dict[str, Any] | None = None
    images: list[dict[str, Any]] = []
    for file_name, content in sorted(_files(artifact, path).items()):
        for document in _documents(content, file_name):
            if posixpath.basename(file_name) in KUSTOMIZATION_FILES and document.get("kind") in (None, "Kustomization"):
                images.extend(item for item in document.get("images") or [] if isinstance(item, dict))
                continue
            metadata = document.get("metadata") or {}
            if (
                document.get("kind") == "Deployment"
                and metadata.get("name") == name
                and metadata.get("namespace", namespace) == namespace
            ):
                found = ((document.get("spec") or {}).get("template")) or {}
    if found is not None:
        _apply_images(found, images)
    return found
