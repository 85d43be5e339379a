"""Builds the krew archive of ``kubectl hotfix`` byte for byte reproducibly, and prints its sha256.

    python hack/krew_archive.py OUT.tar.gz

The archive holds the launcher (hack/krew/kubectl-hotfix); fixed owners,
modes and times make the same sources give the same sha256 as plugins/hotfix.yaml records.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = {"kubectl-hotfix": (ROOT / "hack" / "krew" / "kubectl-hotfix", 0o755)}


def archive_bytes() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, (path, mode) in FILES.items():
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid, info.gid = len(data), mode, 0, 0, 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


def main() -> None:
    data = archive_bytes()
    Path(sys.argv[1]).write_bytes(data)
    print(hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    main()
