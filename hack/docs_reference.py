"""Writes the documentation's generated reference pages, so they never drift from what they describe:

- docs/reference/fields.md: every field of the Hotfix and HotfixPolicy specs, from the CRDs' schemas (type,
  default, limits, allowed values, the schema's own description and validation messages);
- docs/reference/cli.md: the help of ``hotfix-operator`` and ``kubectl hotfix``, each command, as printed;
- docs/index.md: the README, its links made relative to the site.

Run by ``make docs`` (and so by ``make test``) before MkDocs builds the site; the pages are not committed.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CRDS = {"Hotfix": REPO / "crds" / "hotfix.yaml", "HotfixPolicy": REPO / "crds" / "hotfixpolicy.yaml"}


def _limits(schema: dict[str, Any]) -> str:
    parts = []
    for key, text in (("minimum", ">= {}"), ("maximum", "<= {}"), ("exclusiveMinimum", "> {}"),
                      ("exclusiveMaximum", "< {}"), ("minLength", "length >= {}"), ("maxLength", "length <= {}"),
                      ("minItems", "at least {} items"), ("maxItems", "at most {} items")):  # fmt: skip
        if key in schema and not isinstance(schema[key], bool):
            parts.append(text.format(schema[key]))
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{value}`" for value in schema["enum"]))
    if "pattern" in schema:
        parts.append(f"matches `{schema['pattern']}`")
    return "; ".join(parts)


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type") or ("int or string" if schema.get("x-kubernetes-int-or-string") else "any")
    if kind == "array":
        return f"list of {_type(schema.get('items') or {})}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    return str(kind)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def field_rows(schema: dict[str, Any], path: str, required: bool) -> list[tuple[str, ...]]:
    notes = [schema.get("description", "")]
    notes += [rule["message"] for rule in schema.get("x-kubernetes-validations") or [] if rule.get("message")]
    default = schema.get("default")
    shown_default = "" if default is None else f"`{json.dumps(default)}`"
    note = _cell("; ".join(note.strip().rstrip(".") for note in notes if note))
    rows = [(f"`{path}`", _type(schema), "yes" if required else "", shown_default, _cell(_limits(schema)), note)]
    children = schema.get("properties") or (schema.get("items") or {}).get("properties")
    needed = set(schema.get("required") or (schema.get("items") or {}).get("required") or [])
    suffix = "[]" if schema.get("type") == "array" else ""
    for name, child in (children or {}).items():
        rows += field_rows(child, f"{path}{suffix}.{name}", name in needed)
    return rows


def fields_page() -> str:
    lines = [
        "# Fields",
        "",
        "Generated from the CRDs in `crds/` (`hack/docs_reference.py`): what the API server itself checks. The",
        "operator checks the same and more (durations, queries, tenancy), naming the field.",
    ]
    for kind, path in CRDS.items():
        crd = yaml.safe_load(path.read_text())
        version = crd["spec"]["versions"][0]
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        lines += ["", f"## {kind} (`{crd['spec']['group']}/{version['name']}`)", "",
                  "| field | type | required | default | limits | notes |", "|---|---|---|---|---|---|"]  # fmt: skip
        required = set(spec.get("required") or [])
        for name, child in (spec.get("properties") or {}).items():
            lines += ["| " + " | ".join(row) + " |" for row in field_rows(child, f"spec.{name}", name in required)]
    return "\n".join(lines) + "\n"


def _help(parser: argparse.ArgumentParser) -> str:
    return parser.format_help()


def _commands(parser: argparse.ArgumentParser, name: str) -> list[str]:
    lines = [f"## `{name}`", "", "```text", _help(parser).rstrip(), "```"]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for command, sub in getattr(action, "choices", {}).items():
            lines += ["", f"### `{name} {command}`", "", "```text", _help(sub).rstrip(), "```"]
    return lines


def cli_page() -> str:
    sys.path.insert(0, str(REPO / "operator"))
    from hotfix_operator.cli import kubectl_plugin, main

    with redirect_stdout(io.StringIO()):
        lines = ["# Command line", "", "Generated from the programs' own `--help` (`hack/docs_reference.py`)."]
        lines += ["", *_commands(main.build_parser(), "hotfix-operator")]
        lines += ["", *_commands(kubectl_plugin.build_parser(), "kubectl hotfix")]
    return "\n".join(lines) + "\n"


def main() -> None:
    reference = REPO / "docs" / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    (reference / "fields.md").write_text(fields_page())
    (reference / "cli.md").write_text(cli_page())
    readme = (REPO / "README.md").read_text()
    (REPO / "docs" / "index.md").write_text(readme.replace("](docs/", "]("))


if __name__ == "__main__":
    main()
