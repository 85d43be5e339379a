"""Shell completion for ``kubectl hotfix``, the way kubectl completes plugins (kubectl 1.26+).

kubectl runs ``kubectl_complete-hotfix`` (this console script) with the words typed after
``kubectl hotfix``, the last one being the word being completed, and reads one candidate per line
followed by cobra's directive line (``:4``: do not fall back to file names). Verbs come first, then the
names of the Hotfixes in the namespace (``-n``, else the kubeconfig context's).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

VERBS = ("status", "approve", "rollback", "abort", "report", "policies", "dashboard")
# Flags that take a value: their value is not a positional word.
VALUE_FLAGS = (
    "-n", "--namespace", "--kubeconfig", "--context", "--by", "--watch-timeout",
    "--incident", "--prometheus", "--telemetry", "-o", "--output-dir", "--address", "--port",
)  # fmt: skip
# Verbs that take no Hotfix name.
NAMELESS_VERBS = ("policies", "dashboard")
NO_FILE_COMPLETION = ":4"


def _flag_value(words: Sequence[str], *flags: str) -> str | None:
    for index, word in enumerate(words):
        for flag in flags:
            if word == flag and index + 1 < len(words):
                return words[index + 1]
            if word.startswith(f"{flag}="):
                return word.split("=", 1)[1]
    return None


def candidates(
    words: Sequence[str], hotfix_names: Callable[[str | None, str | None, str | None], list[str]]
) -> list[str]:
    """What may come next after ``words`` (the last one is the partial word being typed)."""
    typed, partial = list(words[:-1]), words[-1] if words else ""
    positional, skip = [], False
    for word in typed:
        if skip:
            skip = False
        elif word in VALUE_FLAGS:
            skip = True
        elif not word.startswith("-"):
            positional.append(word)
    if not positional:
        return [verb for verb in VERBS if verb.startswith(partial)]
    if len(positional) == 1 and positional[0] in VERBS and positional[0] not in NAMELESS_VERBS:
        names = hotfix_names(
            _flag_value(typed, "-n", "--namespace"), _flag_value(typed, "--kubeconfig"), _flag_value(typed, "--context")
        )
        return [name for name in names if name.startswith(partial)]
    return []


def _cluster_names(namespace: str | None, kubeconfig: str | None, context: str | None) -> list[str]:
    from hotfix_operator.cli.kubectl_plugin import Plugin, client_and_namespace

    api_client, namespace = client_and_namespace(kubeconfig, context, namespace)
    return sorted(hotfix["metadata"]["name"] for hotfix in Plugin(api_client, namespace).list())


def main(argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        found = candidates(words, _cluster_names)
    except Exception:  # no cluster, no kubeconfig: complete nothing rather than print a traceback
        found = []
    for candidate in found:
        print(candidate, file=stdout)
    print(NO_FILE_COMPLETION, file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
