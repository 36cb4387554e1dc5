"""Generate the Python code of our protobuf contracts into gen/python (or another directory).

The generated tree is committed and never edited by hand; `make protos-check` regenerates it
into a temporary directory and fails on any difference.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"


def _include_paths() -> list[str]:
    well_known = resources.files("grpc_tools") / "_proto"
    # googleapis-common-protos ships google/api/annotations.proto beside its generated modules.
    import google.api.annotations_pb2 as annotations

    googleapis = Path(annotations.__file__).resolve().parent.parent.parent
    return [str(PROTOS), str(well_known), str(googleapis)]


def generate(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = ["protoc", *(f"-I{p}" for p in _include_paths())]
    args += [f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in {p.parent for p in out.rglob("*.py")}:
        while package != out:
            (package / "__init__.py").touch()
            package = package.parent
    (out / "switchboard" / "py.typed").touch()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "gen" / "python")
    generate(parser.parse_args(argv).out)


if __name__ == "__main__":
    main(sys.argv[1:])
