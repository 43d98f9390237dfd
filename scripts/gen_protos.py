"""Generate the Python code for protos/ with grpcio-tools (and mypy-protobuf stubs).

python scripts/gen_protos.py          # regenerate in place
python scripts/gen_protos.py --check  # exit 1 when the checked-in code is stale
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos" / "deskside" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def generate(out_dir: Path) -> list[Path]:
    """Run protoc over every .proto file, writing under out_dir (a mirror of ROOT)."""
    protos = sorted(PROTO_DIR.glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *[str(p.relative_to(ROOT)) for p in protos],
    ]
    # protoc finds the mypy-protobuf plugins on PATH; they live beside this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    generated_dir = out_dir / PROTO_DIR.relative_to(ROOT)
    return sorted(p for p in generated_dir.iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    check = parser.parse_args().check
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = [
            p.name
            for p in fresh
            if not (PROTO_DIR / p.name).exists()
            or not filecmp.cmp(p, PROTO_DIR / p.name, shallow=False)
        ]
        known = {p.name for p in fresh}
        orphans = [p.name for p in PROTO_DIR.iterdir() if p.name.endswith(GENERATED_SUFFIXES)]
        orphans = [name for name in orphans if name not in known]
        if check:
            if stale or orphans:
                print(f"generated protobuf code is stale: {', '.join(stale + orphans)}")
                print("run: make proto")
                return 1
            print("generated protobuf code is up to date")
            return 0
        for p in fresh:
            shutil.copyfile(p, PROTO_DIR / p.name)
        for name in orphans:
            (PROTO_DIR / name).unlink()
        print(f"generated {len(fresh)} files in {PROTO_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
