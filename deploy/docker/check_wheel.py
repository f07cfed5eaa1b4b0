"""Check that a wheel ships every file of the source package, static files included.

    python check_wheel.py dist/mrnet_service-0.1.0-py3-none-any.whl service

Exits 1 and names the missing files otherwise. The Dockerfile runs it on the wheel it
installs; tests/deploy runs it on a wheel built from the working tree.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

_SKIPPED_PARTS = {"__pycache__"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def source_files(package: Path) -> set[str]:
    """Paths (posix, from the package's parent) of the package's files."""
    return {
        path.relative_to(package.parent).as_posix()
        for path in package.rglob("*")
        if path.is_file()
        and path.suffix not in _SKIPPED_SUFFIXES
        and not path.name.startswith(".")  # editor and atomic-write leftovers
        and not _SKIPPED_PARTS & set(path.parts)
    }


def missing_files(wheel: Path, package: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    return sorted(source_files(package) - shipped)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    wheel, package = Path(argv[0]), Path(argv[1])
    missing = missing_files(wheel, package)
    if missing:
        print(f"{wheel.name} lacks {len(missing)} file(s) of {package}:", file=sys.stderr)
        for name in missing:
            print(f"  {name}", file=sys.stderr)
        return 1
    print(f"{wheel.name} ships all {len(source_files(package))} files of {package.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
