"""The installed layout: binaries import as top-level packages and nothing shadows `cmd`; the wheel
declares what the code imports, carries what it needs, and installs and runs on 3.11-3.13."""

from __future__ import annotations

import ast
import glob
import importlib.metadata
import os
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.polling import eventually_sync

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


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _runtime_requirements() -> list[Requirement]:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    return [Requirement(text) for text in project["dependencies"]]


def _imported_distributions() -> set[str]:
    """The distributions of every third-party module that comp, pkg and the binaries import."""
    modules: set[str] = set()
    for directory in ("comp", "pkg", "cmd"):
        for path in (ROOT / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    ours = {"comp", "pkg", "core_agent", "config_stream_client", "sample_remote_agent"}
    third_party = modules - ours - set(sys.stdlib_module_names)
    owners = importlib.metadata.packages_distributions()
    dists: set[str] = set()
    for module in sorted(third_party):
        assert module in owners, f"{module} is imported but no installed distribution provides it"
        dists.update(canonicalize_name(d) for d in owners[module])
    return dists


def test_runtime_dependencies_are_ranges_of_what_the_code_imports() -> None:
    requirements = _runtime_requirements()
    declared = {canonicalize_name(r.name) for r in requirements}
    imported = _imported_distributions()
    # opentelemetry is one namespace for several distributions; protobuf provides `google`.
    assert declared - imported == set(), "declared but never imported"
    assert imported - declared <= {"opentelemetry-semantic-conventions"}, "imported but not declared"
    for requirement in requirements:
        assert not any(spec.operator == "==" for spec in requirement.specifier), requirement
    assert _pyproject()["project"]["requires-python"] == ">=3.11"  # type: ignore[index]


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    project = _pyproject()["project"]
    dev = [Requirement(text) for text in project["optional-dependencies"]["dev"]]  # type: ignore[index]
    for requirement in [*_runtime_requirements(), *dev]:
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} has no pin in requirements.lock"
        assert requirement.specifier.contains(pinned, prereleases=True), f"{requirement} vs {pinned}"


def test_wheel_carries_type_markers_default_config_and_generated_code(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    for package in ("comp", "pkg", *BINARY_PACKAGES):
        assert f"{package}/py.typed" in names
    assert "core_agent/datadog.yaml" in names
    assert "pkg/proto/gen/datadog/api/v1/api_pb2_grpc.py" in names
    assert "comp/core/configstreamconsumer/stream.py" in names
    (metadata,) = (n for n in names if n.endswith(".dist-info/METADATA"))
    text = archive.read(metadata).decode()
    assert "Requires-Python: >=3.11" in text
    assert "psutil" not in text


def _python(version: str) -> str | None:
    """An interpreter of ``version``: PY3XX from the environment, python3.X, or pyenv's."""
    given = os.environ.get("PY" + version.replace(".", ""))
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates: list[str | None] = [given, shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        if (
            candidate
            and subprocess.run([candidate, "-c", ""], check=False, capture_output=True).returncode == 0
        ):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stopped_on_exit() -> Iterator[list[subprocess.Popen[Any]]]:
    processes: list[subprocess.Popen[Any]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.e2e
@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_the_wheel_installed_in_a_fresh_venv_runs_the_three_binaries(
    version: str, wheel: Path, tmp_path: Path, stopped_on_exit: list[subprocess.Popen[Any]]
) -> None:
    python = _python(version)
    if python is None:
        pytest.skip(f"python{version} is not installed (set PY{version.replace('.', '')})")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    # The dependencies resolve from the wheel's ranges; the lock as constraints keeps them the tested ones.
    install = [str(venv / "bin" / "pip"), "install", "--quiet", "-c", str(ROOT / "requirements.lock")]
    installed = subprocess.run([*install, str(wheel)], check=False, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DD_", "PYTHON"))}
    env["PYTHONUNBUFFERED"] = "1"
    home = tmp_path / "agent"
    home.mkdir()
    config = home / "datadog.yaml"
    config.write_text(
        f"cmd_host: 127.0.0.1\ncmd_port: {_free_port()}\ntelemetry:\n  enabled: false\n", encoding="utf-8"
    )

    def run(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(venv / "bin" / binary), *args]
        return subprocess.run(
            argv, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    where = run("python", "-c", "import comp, core_agent; print(comp.__file__, core_agent.__file__)")
    assert where.stdout.count(str(venv)) == 2, where

    core_log, sample_log = home / "core.log", home / "sample.log"

    def logs() -> str:
        return "".join(
            f"\n--- {p.name}:\n{p.read_text(encoding='utf-8')[-2000:]}" for p in (core_log, sample_log)
        )

    with core_log.open("w") as out:
        core = subprocess.Popen(
            [str(venv / "bin" / "core-agent"), "run", "-c", str(config)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    stopped_on_exit.append(core)
    eventually_sync(
        lambda: run("core-agent", "status", "-c", str(config)).returncode == 0, "core-agent status", 30
    )

    client = run("config-stream-client", "-c", str(config), "--duration", "1s")
    assert client.returncode == 0, client.stdout + client.stderr + logs()
    assert "SNAPSHOT received" in client.stdout

    with sample_log.open("w") as err:
        sample = subprocess.Popen(
            [str(venv / "bin" / "sample-remote-agent"), "-c", str(config), "--wait-timeout", "30"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    stopped_on_exit.append(sample)
    assert sample.stdout is not None
    first = sample.stdout.readline()
    assert first.startswith("ready: "), first + logs()
    sample.send_signal(signal.SIGTERM)
    assert sample.wait(30) == 0, logs()
    assert "stopped" in sample.stdout.read()
    core.send_signal(signal.SIGTERM)
    assert core.wait(30) == 0, logs()
