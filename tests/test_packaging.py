"""The installed layout: binaries import as top-level packages and nothing shadows `cmd`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINARY_PACKAGES = ("core_agent", "config_stream_client", "sample_remote_agent")


@pytest.mark.parametrize("cwd", [ROOT, Path("/")])
def test_standard_library_cmd_is_not_shadowed(cwd: Path) -> None:
    code = "import pdb, cmd; cmd.Cmd; import sys; print(cmd.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout
    assert Path(out.strip()).parent == Path(subprocess.__file__).parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("*.whl")
    return path


def test_wheel_has_no_cmd_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"comp", "pkg", *BINARY_PACKAGES}
    assert not any(n.startswith("cmd/") for n in names)
    assert "core_agent/__init__.py" in names


def test_installed_wheel_imports_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import pdb, cmd; cmd.Cmd\n"
        "import core_agent, config_stream_client, sample_remote_agent, comp, pkg\n"
        f"assert core_agent.__file__.startswith({str(target)!r}), core_agent.__file__\n"
    )
    env = {"PYTHONPATH": str(target), "PYTHONNOUSERSITE": "1", "PATH": "/usr/bin:/bin"}
    # -S keeps the editable install's .pth (which puts the source tree on sys.path) out of the way;
    # the dependencies come from the environment's site-packages, appended after the wheel.
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    code = f"import sys; sys.path.append({site_packages!r})\n" + code
    subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env, check=True)
