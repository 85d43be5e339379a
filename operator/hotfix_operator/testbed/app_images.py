"""The real node's images: one application binary, one tag per behaviour, packed without a registry.

Each tag bakes its behaviour into the image's environment (see hack/testapp/app/main.go), as a real hotfix
carries its own bug; ``NEVER_IMPORTED`` is a tag nobody built, so pulling it fails the way a mistyped tag
does (no registry is reachable from the test bed).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

APP = "hotfix.local/app"
PAUSE_IMAGE = "hotfix.local/pause:1"
# tag -> the environment baked into it
APP_TAGS: dict[str, dict[str, str]] = {
    "1.0": {},
    "1.1-errors": {"APP_ERROR_RATIO": "0.2"},
    "1.2-good": {},
    "1.3-slow": {"APP_LATENCY_MS": "1500"},
    "1.4-crash": {"APP_CRASH_AT_START": "true"},
    "1.5-exits": {"APP_EXIT_AFTER": "20s"},
    "1.6-unready": {"APP_READY_AFTER": "never"},
    "1.7-leak": {"APP_LEAK_MB_PER_SECOND": "64"},
    "1.8-slow-start": {"APP_READY_AFTER": "60s"},
}
NEVER_IMPORTED = "1.4.2-hotfx"


def app_image(tag: str) -> str:
    return f"{APP}:{tag}"


def build_images(bin_dir: Path, out_dir: Path) -> list[Path]:
    """Pack the pause image and every application tag as image tarballs; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = [(bin_dir / "pause", PAUSE_IMAGE, {})] + [
        (bin_dir / "app", app_image(tag), env) for tag, env in APP_TAGS.items()
    ]
    made = []
    for binary, reference, env in wanted:
        path = out_dir / (reference.rsplit("/", 1)[-1].replace(":", "-") + ".tar")
        flags = [item for name, value in env.items() for item in ("-env", f"{name}={value}")]
        subprocess.run(
            [str(bin_dir / "mkimage"), "-binary", str(binary), "-ref", reference, "-o", str(path), *flags], check=True
        )
        made.append(path)
    return made
