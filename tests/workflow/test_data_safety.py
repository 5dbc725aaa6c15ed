"""The workflow only ever reads the user's data folders: the README's real-data command, run from the
repository root on copies of the real LLP files, leaves them byte-identical and renders no demo set.
Also: workflow inputs with shell-special names, and planning errors that stop before any job runs."""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import llp_dir
from snakerun import REPO, environment, planned_rules, snakemake

pytestmark = pytest.mark.slow


def _checkout_copy(dest: Path) -> Path:
    """The repository's files (tracked and new, not ignored) copied to ``dest``: a repository root to run in."""
    names = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, names):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _readme_llp_command() -> list[str]:
    text = (REPO / "README.md").read_text()
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip().startswith("snakemake --cores all --configfile workflow/configs/llp.yaml")
    ]
    assert lines, "README has no real-data command line starting with `snakemake --cores all --configfile ...llp.yaml`"
    return shlex.split(lines[0])


@pytest.fixture
def user_data(tmp_path):
    src = llp_dir()
    if not (src / "AVVP_train.csv").is_file() or not (src / "BjCEufrlXm4.mp4").is_file():
        pytest.skip(f"LLP annotation CSVs and clip not found in {src} (set AVVP_LLP_DIR to the shared LLP folder)")
    ann, videos = tmp_path / "user" / "annotations", tmp_path / "user" / "videos"
    ann.mkdir(parents=True)
    videos.mkdir()
    for csv in src.glob("AVVP_*.csv"):
        shutil.copy2(csv, ann / csv.name)
    shutil.copy2(src / "BjCEufrlXm4.mp4", videos / "BjCEufrlXm4.mp4")
    return ann, videos


def _run(cmd: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """``cmd`` (a `snakemake ...` command line) run in the checkout copy ``cwd``, with no pretrained weights."""
    assert cmd[0] == "snakemake", cmd
    env = environment(TORCH_HOME=str(tmp_path / "no-weights"))
    return snakemake(None, *cmd[1:], check=False, cores=None, cwd=cwd, timeout=600, env=env)


def test_readme_llp_command_never_writes_into_the_data_folders(user_data, tmp_path):
    ann, videos = user_data
    before = {"annotations": _fingerprint(ann), "videos": _fingerprint(videos)}
    root = _checkout_copy(tmp_path / "repo")
    cmd = [a.replace("ANNOTATIONS", str(ann)).replace("VIDEOS", str(videos)) for a in _readme_llp_command()]
    assert f"annotations_dir={ann}" in cmd and f"videos_dir={videos}" in cmd
    proc = _run(cmd, root, tmp_path)
    out = proc.stdout + proc.stderr
    # no pretrained weights here: the run stops at extraction
    assert proc.returncode != 0 and "rule synth" not in out and "localrule synth" not in out, out[-3000:]
    assert any("pretrained weights" in log.read_text() for log in root.glob("results/logs/extract_*/shard-0000.log"))
    assert {"annotations": _fingerprint(ann), "videos": _fingerprint(videos)} == before
    assert (
        sorted(p.name for p in videos.iterdir()) == ["BjCEufrlXm4.mp4"] and not (root / "resources" / "demo").exists()
    )


def test_data_folder_shortcut_with_the_demo_config_never_renders_the_demo(user_data, tmp_path):
    ann, videos = user_data
    before = {"annotations": _fingerprint(ann), "videos": _fingerprint(videos)}
    root = _checkout_copy(tmp_path / "repo")
    args = ["snakemake", "--cores", "2", "--config", f"annotations_dir={ann}", f"videos_dir={videos}"]
    dry = _run([*args, "-n"], root, tmp_path)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "synth" not in planned_rules(dry) and {"index", "extract_visual", "train"} <= planned_rules(dry)
    proc = _run([*args, "--until", "index"], root, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {"annotations": _fingerprint(ann), "videos": _fingerprint(videos)} == before
    assert not (root / "resources" / "demo").exists()


def test_planning_errors_stop_before_any_job(tiny_set, tmp_path):
    root = _checkout_copy(tmp_path / "repo")
    proc = _run(["snakemake", "-n", "--cores", "1", "--config", "train={'models': ['hann']}"], root, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "unknown model 'hann' in train.models; did you mean 'han'?" in out
    assert "Traceback" not in out
    proc = _run(
        [
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--config",
            f"annotations_dir={tiny_set[1]}",
            f"videos_dir={tmp_path}/nowhere",
        ],
        root,
        tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"videos_dir {tmp_path}/nowhere: folder not found" in out, out[-2000:]


def test_dangling_link_in_videos_dir_is_skipped_not_fatal(user_data, tmp_path):
    ann, videos = user_data
    ids = re.findall(r"^(.{11})_", (ann / "AVVP_test_pd.csv").read_text(), re.M)
    (videos / f"{ids[0]}.mp4").symlink_to(tmp_path / "deleted.mp4")
    root = _checkout_copy(tmp_path / "repo")
    proc = _run(
        [
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--configfile",
            "workflow/configs/llp.yaml",
            "--config",
            f"annotations_dir={ann}",
            f"videos_dir={videos}",
        ],
        root,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"skipping {videos / ids[0]}.mp4: dangling symbolic link" in proc.stdout + proc.stderr
