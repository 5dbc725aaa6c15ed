"""Every `avvp bench NAME` runs its smallest setting to exit status 0, and shows only its own flags."""

import subprocess
import sys

import pytest

from avvp_pipeline.bench import BENCHMARKS
from avvp_pipeline.cli import main


def _clips(tiny_set, tmp_path) -> list[str]:
    return ["--videos-dir", str(tiny_set[0]), "--n", "1"]


def _stage_files(tiny_set, tmp_path) -> list[str]:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "han.tsv").write_text("s\th:m:s\tmax_rss\n1.5\t0:00:01\t120.0\n")
    return ["--dir", str(tmp_path)]


# name -> its smallest flags, given the tiny rendered set and a folder for its inputs and outputs
SMALLEST = {
    "metrics": lambda clips, tmp: ["--videos", "20", "--repeat", "1"],
    "stages": _stage_files,
    "import": lambda clips, tmp: ["--released-dir", str(tmp / "r"), "--generate", "2", "--repeat", "1"],
    "pages": _clips,
    "transport": lambda clips, tmp: ["--n", "2", "--repeat", "1"],
    "decode": lambda clips, tmp: ["--repeat", "1", "--video", str(sorted(clips[0].glob("*.mp4"))[0])],
    "train": lambda clips, tmp: (
        ["--videos", "8", "--batch-sizes", "4", "--train-precisions", "fp32"] + ["--device", "cpu"]
    ),
    "extract": lambda clips, tmp: (
        _clips(clips, tmp)
        + ["--stage-n", "1", "--batch-videos", "1", "--resnet-resize", "32", "--resnet-crop", "32"]
        + ["--r2plus1d-size", "16", "--no-reference", "--device", "cpu"]
    ),
    "planted": lambda clips, tmp: (
        ["--rows", "han", "--scale", "0.002", "--epochs", "1", "--device", "cpu"]
        + ["--no-progress", "--out", str(tmp / "out")]
    ),
    "teachers": lambda clips, tmp: ["--n", "1", "--threads", "2", "--sizes", "small"],
    "lfav-train": lambda clips, tmp: ["--scale", "0.002", "--device", "cpu"],
}
SLOW = {"extract", "teachers"}  # ResNet-152, R(2+1)D-18, VGGish and CLAP on a CPU: over ten seconds each


def test_every_benchmark_has_a_smallest_setting():
    assert set(SMALLEST) == set(BENCHMARKS)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in SMALLEST], ids=str
)
@pytest.mark.slow
def test_smallest_setting_exits_0(name, tiny_set, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "avvp_pipeline.cli", "-q", "bench", name, *SMALLEST[name](tiny_set, tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip()


def test_each_benchmark_shows_only_its_own_flags(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "metrics", "--help"])
    metrics = capsys.readouterr().out
    assert "--videos" in metrics and "--repeat" in metrics
    assert "--released-dir" not in metrics and "--parse-model" not in metrics and "--cuda-graphs" not in metrics
    with pytest.raises(SystemExit):
        main(["bench", "pages", "--help"])
    pages = capsys.readouterr().out
    assert "--parse-model" in pages and "--videos-dir" in pages and "--repeat" not in pages
