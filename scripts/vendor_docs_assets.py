"""Vendor the API docs' browser assets (Swagger UI, ReDoc) into gateway/docs/static/.

The gateway serves these files itself because users' clusters are often offline (no CDN). The
versions are pinned here; the files' sha256 sums are recorded in gateway/docs/static/manifest.json,
which the gateway also reads to know the directories it serves.

    python scripts/vendor_docs_assets.py                    # npm pack, verify, write
    python scripts/vendor_docs_assets.py --check            # verify the files on disk, offline
    python scripts/vendor_docs_assets.py --update-manifest  # after changing a pinned version

Why these versions: Swagger UI renders OpenAPI 3.1 only from 5.x (4.15.5, shipped by the PyPI
package swagger-ui-bundle, checks `openapi` starts with "3.0." and refuses our document). ReDoc
stays on 2.x: 3.x is an ES module that sends usage telemetry unless told not to, while 2.x is a
classic script with a `nonce` option that lets a strict Content-Security-Policy allow its styles.
Source maps are left out (size); the bundles are copied byte for byte, licences beside them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "gateway" / "docs" / "static"
MANIFEST = STATIC / "manifest.json"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    # file name in the vendored directory -> path inside the npm tarball
    files: dict[str, str]

    @property
    def directory(self) -> str:
        return f"{self.name}-{self.version}"


PACKAGES = (
    Package(
        "swagger-ui-dist",
        "5.35.0",
        {
            "swagger-ui-bundle.js": "package/swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt": "package/swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css": "package/swagger-ui.css",
            "LICENSE": "package/LICENSE",
            "NOTICE": "package/NOTICE",
        },
    ),
    Package(
        "redoc",
        "2.5.4",
        {
            "redoc.standalone.js": "package/bundles/redoc.standalone.js",
            "redoc.standalone.js.LICENSE.txt": "package/bundles/redoc.standalone.js.LICENSE.txt",
            "LICENSE": "package/LICENSE",
        },
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(package: Package, workdir: Path) -> dict[str, bytes]:
    """The package's chosen files, from the tarball `npm pack` fetches from the registry."""
    spec = f"{package.name}@{package.version}"
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        return {name: _read(archive, inner) for name, inner in package.files.items()}


def _read(archive: tarfile.TarFile, inner: str) -> bytes:
    member = archive.extractfile(inner)
    if member is None:
        raise SystemExit(f"{inner} is not a file in the tarball")
    return member.read()


def load_manifest() -> dict[str, dict[str, object]]:
    if not MANIFEST.exists():
        return {}
    loaded: dict[str, dict[str, object]] = json.loads(MANIFEST.read_text())
    return loaded


def manifest_entry(package: Package, files: dict[str, bytes]) -> dict[str, object]:
    return {
        "version": package.version,
        "directory": package.directory,
        "files": {name: sha256(data) for name, data in sorted(files.items())},
    }


def vendor(update_manifest: bool) -> int:
    manifest = load_manifest()
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for package in PACKAGES:
            files = fetch(package, Path(tmp))
            entry = manifest_entry(package, files)
            if not update_manifest and manifest.get(package.name) != entry:
                problems.append(f"{package.name}@{package.version} differs from the manifest")
                continue
            _write(package, files)
            manifest[package.name] = entry
    if problems:
        print("\n".join(problems), "\n(run with --update-manifest after a version bump)")
        return 1
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


def _write(package: Package, files: dict[str, bytes]) -> None:
    target = STATIC / package.directory
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / name).write_bytes(data)


def check() -> int:
    """Offline: every vendored file is on disk with the sum the manifest records."""
    manifest = load_manifest()
    problems = []
    for package in PACKAGES:
        entry = manifest.get(package.name)
        if entry is None or entry.get("version") != package.version:
            problems.append(f"{package.name}: manifest does not pin {package.version}")
            continue
        recorded = entry["files"]
        assert isinstance(recorded, dict)
        for name, digest in recorded.items():
            path = STATIC / package.directory / name
            if not path.exists() or sha256(path.read_bytes()) != digest:
                problems.append(f"{path.relative_to(ROOT)}: missing or changed")
    print("\n".join(problems) or "docs assets match the manifest")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify the files on disk, offline")
    mode.add_argument("--update-manifest", action="store_true", help="record new sums")
    args = parser.parse_args()
    return check() if args.check else vendor(args.update_manifest)


if __name__ == "__main__":
    sys.exit(main())
