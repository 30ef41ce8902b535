"""The package as users install it: extras keep the installed torch, the wheel ships its data, installs
into a clean environment and runs the demo, and the build prints no setuptools warning.

These tests ask PyPI (pip's resolver, ``python -m build``'s isolated build environment); they are the
slow part of the suite (about a minute with pip's cache warm) and run in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = sorted(PYPROJECT["project"]["optional-dependencies"])

pytestmark = pytest.mark.slow


def _torch_version() -> str:
    import torch

    return torch.__version__.split("+")[0]


def _dry_run(extra: str, constraints: Path, out: Path) -> dict:
    """``pip install --dry-run --report`` of ``.[extra]`` into this environment under ``constraints``."""
    report = out / f"{extra}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
         "-c", str(constraints), f"{REPO}[{extra}]"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, f"extra [{extra}] does not install with the torch constraint:\n{proc.stderr[-3000:]}"
    return json.loads(report.read_text(encoding="utf-8"))


def test_every_extra_keeps_the_installed_torch(tmp_path: Path) -> None:
    """The documented install (a constraint on the installed torch) resolves for every extra, `all`
    included, and installs no torch: the user's build (CUDA or CPU) stays."""
    torch_pin = f"torch=={_torch_version()}"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(torch_pin + "\n", encoding="utf-8")
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = dict(zip(EXTRAS, pool.map(lambda e: _dry_run(e, constraints, tmp_path), EXTRAS), strict=True))
    lines = []
    for extra, report in reports.items():
        installs = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
                    for i in report["install"]}
        assert "torch" not in installs, f"extra [{extra}] would install torch {installs['torch']} over {torch_pin}"
        added = sorted(f"{n} {v}" for n, v in installs.items() if n != "jinavdr")
        lines.append(f"[{extra}] torch unchanged ({torch_pin}); would add: {', '.join(added) or 'nothing'}")
    print("\n".join(lines))


#: Extras that cannot install with the others (documented in pyproject.toml and the README).
CONFLICTING = {"colpali"}  # colpali-engine for torch >= 2.12 needs transformers >= 5; the others need < 5


def test_all_is_every_extra_that_installs_together() -> None:
    """`all` names every extra but the documented conflict (dev is for contributors); it is resolved
    with the torch constraint in the test above, so it does install together."""
    (spec,) = PYPROJECT["project"]["optional-dependencies"]["all"]
    named = set(spec.partition("[")[2].rstrip("]").split(","))
    assert named == set(EXTRAS) - {"all", "dev"} - CONFLICTING


def test_no_extra_needs_timm_but_clip() -> None:
    """timm pulls torchvision; only jina-clip-v2's remote vision tower imports it."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    with_timm = sorted(e for e, reqs in extras.items() if any(r.startswith("timm") for r in reqs))
    assert with_timm == ["clip"]


# -------------------------------------------------------------------------------------------------
# The wheel
# -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """``python -m build`` (sdist, then the wheel from the sdist, as pip would): paths and the log."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True, text=True, timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    (wheel,) = out.glob("jinavdr-*.whl")
    (sdist,) = out.glob("jinavdr-*.tar.gz")
    return wheel, sdist, log


def test_build_prints_no_setuptools_warning(built: tuple[Path, Path, str]) -> None:
    log = built[2]
    noisy = [line for line in log.splitlines()
             if ("warning" in line.lower() or "deprecat" in line.lower()) and "byte-compiling" not in line]
    assert not noisy, "\n".join(noisy)


def test_wheel_ships_task_files_sample_and_reference_scores(built: tuple[Path, Path, str]) -> None:
    names = set(zipfile.ZipFile(built[0]).namelist())
    tasks = {f"jinavdr/_tasks/{p.name}" for p in (REPO / "tasks").glob("*.toml")}
    sample_root = REPO / "jinavdr" / "assets" / "sample"
    sample = {f"jinavdr/assets/sample/{p.relative_to(sample_root).as_posix()}"
              for p in sample_root.rglob("*") if p.is_file()}
    assert len(tasks) > 50 and tasks <= names, sorted(tasks - names)[:5]
    assert len(sample) > 30 and sample <= names, sorted(sample - names)[:5]
    assert "jinavdr/_leaderboard/paper-scores.csv" in names
    assert "jinavdr/py.typed" in names
    meta = zipfile.ZipFile(built[0]).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta


def _install_in_clean_venv(root: Path, wheel: Path) -> Path:
    """A new venv with only the wheel installed (pip sees nothing else there); then this environment's
    site-packages is appended as a plain path for the dependencies (already installed here: nothing is
    downloaded). A plain path's own .pth files are not run, so the checkout's editable install of
    jinavdr stays invisible: jinavdr can only come from the wheel."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           "--no-index", str(wheel)], env=clean, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Successfully installed jinavdr" in proc.stdout, proc.stdout + proc.stderr
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, env=clean).stdout.strip()
    Path(purelib, "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


def test_wheel_installs_into_a_clean_venv_and_runs_the_demo(built: tuple[Path, Path, str], tmp_path: Path) -> None:
    python = _install_in_clean_venv(tmp_path / "venv", built[0])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", JINAVDR_CACHE=str(tmp_path / "cache"))
    work = tmp_path / "elsewhere"  # not the checkout: the sample, tasks and references must come from the wheel
    work.mkdir()

    def jinavdr(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(python), "-m", "jinavdr", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    found = subprocess.run([str(python), "-c", "import jinavdr; print(jinavdr.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    where = found.stdout.strip()
    assert where.startswith(str(tmp_path / "venv")), where
    assert jinavdr("--version").stdout.strip() == f"jinavdr {PYPROJECT['project']['version']}"
    run = jinavdr("run", "--model", "bm25", "--tasks", "sample")
    board = jinavdr("leaderboard", "results/bm25", "--collection", "sample", "--no-charts")
    assert "97.91" in board.stdout, board.stdout
    assert "Warning" not in run.stderr + board.stderr, run.stderr + board.stderr
    refs = subprocess.run(
        [str(python), "-c", "from jinavdr.report.references import DEFAULT_REFERENCES_PATH as p; print(p)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert refs.startswith(str(tmp_path / "venv")) and Path(refs).is_file(), refs
