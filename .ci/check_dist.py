"""
Build the sdist and the wheel, and fail on anything a package index or a site builder would trip over:
a build warning, a README that twine cannot render, or a file missing from either archive.

    python .ci/check_dist.py [OUTDIR]      (run by `make dist`)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "dist")

#: Paths (as prefixes) each archive must hold; the sdist's are relative to its top folder.
WHEEL_MUST_HOLD = (
    "wagtail_company_mfa/__init__.py",
    "wagtail_company_mfa/migrations/0001_initial.py",
    "wagtail_company_mfa/templates/wagtail_company_mfa/",
    "wagtail_company_mfa/locale/nl/LC_MESSAGES/django.mo",
    "wagtail_company_mfa/management/commands/",
    "wagtail_company_mfa/py.typed",
)
SDIST_MUST_HOLD = (
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "docs/index.md",
    "docs/installation.md",
    "tests/conftest.py",
    *WHEEL_MUST_HOLD,
)
#: Nothing of these may ship.
MUST_NOT_HOLD = re.compile(r"(__pycache__|\.pyc$|db\.sqlite3$|docs/_build/|\.venv/|test-results/)")


def fail(message: str) -> None:
    print(f"check_dist: {message}", file=sys.stderr)
    sys.exit(1)


def clean_copy(target: Path) -> Path:
    """
    The files git tracks, as they are in the working tree, copied to ``target``: the archives then hold what a
    release from this checkout would hold, whatever else lies around (caches, databases, build output).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            destination = target / name.decode()
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def build() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("wagtail_company_mfa-*"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        _build(clean_copy(Path(tmp) / "src"))


def _build(source: Path) -> None:
    # --no-isolation: the build uses this environment's setuptools, so its log holds setuptools' own words
    # only (an isolated build also logs the installer's notes about this machine's package sources).
    # Without byte-compiling (PYTHONDONTWRITEBYTECODE), setuptools warns that it skips it.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(OUT.resolve()), str(source)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    log = result.stdout + result.stderr
    if result.returncode:
        print(log)
        fail("the build failed")
    warnings = [line for line in log.splitlines() if re.search(r"\bwarning\b", line, re.IGNORECASE)]
    if warnings:
        print("\n".join(warnings))
        fail(f"the build printed {len(warnings)} warning(s)")


def names_in(path: Path) -> list[str]:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    with tarfile.open(path) as archive:
        # Drop the top folder (wagtail_company_mfa-X.Y/).
        return [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]


def check_contents(path: Path, must_hold: tuple[str, ...]) -> None:
    names = names_in(path)
    missing = [prefix for prefix in must_hold if not any(name.startswith(prefix) for name in names)]
    if missing:
        fail(f"{path.name} is missing {', '.join(missing)}")
    unwanted = [name for name in names if MUST_NOT_HOLD.search(name)]
    if unwanted:
        fail(f"{path.name} holds {', '.join(unwanted[:5])}")
    print(f"{path.name}: {len(names)} files, all expected ones present")


def main() -> None:
    build()
    wheels = sorted(OUT.glob("wagtail_company_mfa-*.whl"))
    sdists = sorted(OUT.glob("wagtail_company_mfa-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {OUT}")
    check_contents(wheels[0], WHEEL_MUST_HOLD)
    check_contents(sdists[0], SDIST_MUST_HOLD)
    subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheels[0]), str(sdists[0])], check=True
    )


if __name__ == "__main__":
    main()
