"""The released LLP features (.npy per video and extractor) imported as feature shards: bad files are
listed and cost only their video, the shards are the extraction path's, and the workflow runs on them."""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from avvp_pipeline.cli import main
from avvp_pipeline.features import released, store
from avvp_pipeline.features.kinds import DEFAULT_KINDS
from avvp_pipeline.features.released import SHAPES, import_shard
from avvp_pipeline.plan import PlanError, data_source, plan_videos

REPO = Path(__file__).resolve().parents[1]

# the HAN release's three folders (the kinds table has VALOR's CLIP / CLAP folders as well)
RELEASE_FOLDERS = {name: released.RELEASE_FOLDERS[name] for name in DEFAULT_KINDS}


def write_release(
    root: Path, ids: list[str], seed: int = 0, kinds: tuple[str, ...] = DEFAULT_KINDS
) -> dict[str, dict[str, np.ndarray]]:
    """A released-layout folder of random float32 features of ``kinds`` (default the HAN release's three);
    returns ``{kind: {id: array}}``."""
    rng = np.random.default_rng(seed)
    arrays = {name: {} for name in kinds}
    for name in kinds:
        folder = released.RELEASE_FOLDERS[name]
        (root / folder).mkdir(parents=True, exist_ok=True)
        for vid in ids:
            a = arrays[name][vid] = rng.random(SHAPES[name], dtype=np.float32)
            np.save(root / folder / f"{vid}.npy", a)
    return arrays


def _path(root: Path, name: str, vid: str) -> Path:
    return root / RELEASE_FOLDERS[name] / f"{vid}.npy"


class _Trap:
    """Unpickling this would create ``path``: the test's proof that nothing is unpickled."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


GOOD = ["goodvideo01", "goodvideo02"]
# id -> (extractor, what is wrong with its file, the reason the failures file gives)
BAD = {
    "wrongshape1": ("vggish", "shape (10, 127)", "shape (10, 127), expected (10, 128)"),
    "int8vggish1": ("vggish", "int8", "looks PCA-quantised (8-bit VGGish output); the release's features are float32"),
    "nanvalues01": ("r2plus1d_18", "NaN", "NaN/Inf values"),
    "truncated01": ("resnet152", "truncated", "truncated or damaged .npy file"),
    "textfile001": ("vggish", "text", "not a .npy file"),
    "objectarray": ("r2plus1d_18", "object", "object array (needs unpickling, refused)"),
    "missingfile": ("resnet152", "missing", "file not found"),
}
FLOAT64 = "float64vid1"


def _spoil(root: Path, vid: str, name: str, what: str, trap: Path) -> None:
    path = _path(root, name, vid)
    if what == "shape (10, 127)":
        np.save(path, np.zeros((10, 127), np.float32))
    elif what == "int8":
        np.save(path, np.zeros(SHAPES[name], np.int8))
    elif what == "NaN":
        a = np.load(path)
        a[3, 7] = np.nan
        np.save(path, a)
    elif what == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif what == "text":
        path.write_text("these are not features\n")
    elif what == "object":
        np.save(path, np.array([_Trap(str(trap))], dtype=object), allow_pickle=True)
    elif what == "missing":
        path.unlink()


@pytest.fixture
def release(tmp_path):
    """A release folder with every kind of bad file, and what is in it."""
    root = tmp_path / "release"
    ids = sorted(GOOD + list(BAD) + [FLOAT64])
    arrays = write_release(root, ids)
    trap = tmp_path / "unpickled"
    for vid, (name, what, _) in BAD.items():
        _spoil(root, vid, name, what, trap)
    as64 = arrays["resnet152"][FLOAT64].astype(np.float64) + 1e-9  # not exactly representable in float32
    np.save(_path(root, "resnet152", FLOAT64), as64)
    arrays["resnet152"][FLOAT64] = as64.astype(np.float32)
    return root, ids, arrays, trap


def _import(root: Path, ids: list[str], out: Path, threads: int = 2) -> tuple[dict[str, str], list]:
    outputs = {name: str(out / name / "shard-0000.h5") for name in RELEASE_FOLDERS}
    failures = import_shard(
        ids,
        str(root),
        outputs,
        str(out / "failures.tsv"),
        {"source": "released", "released_dir": str(root), "version": 1},
        threads=threads,
        progress=False,
    )
    return outputs, failures


def test_every_bad_file_is_one_failures_line_and_the_rest_is_imported(release, tmp_path):
    root, ids, arrays, trap = release
    outputs, failures = _import(root, ids, tmp_path / "features")
    with open(tmp_path / "features/failures.tsv", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    assert rows[0] == ["video_id", "path", "reason"] and len(rows) == 1 + len(BAD) == 1 + len(failures)
    by_id = {r[0]: r for r in rows[1:]}
    for vid, (name, _, reason) in BAD.items():
        assert by_id[vid][1] == str(_path(root, name, vid)) and reason in by_id[vid][2], by_id[vid]
    assert not trap.exists()  # the object array was refused, not unpickled
    imported = sorted(GOOD + [FLOAT64])
    for name in RELEASE_FOLDERS:  # a video with one bad file is left out of all three shards
        shard = store.read_full_shard(outputs[name])
        assert shard.video_ids == imported and shard.features.dtype == np.float32
        for row, vid in enumerate(imported):
            assert np.array_equal(shard.features[row], arrays[name][vid])  # float64 -> float32
        assert shard.attrs["n_failed"] == len(BAD) and shard.attrs["released_files"] == len(imported)


def test_imported_shards_are_the_extraction_writers_shards(release, tmp_path):
    """The same arrays through the extraction path's writer give byte-identical datasets; only the
    provenance attributes differ."""
    root, ids, arrays, _ = release
    outputs, _ = _import(root, ids, tmp_path / "imported")
    imported = sorted(GOOD + [FLOAT64])
    for name in RELEASE_FOLDERS:
        extracted = tmp_path / "extracted" / f"{name}.h5"
        extra = {"has_audio": np.ones(len(imported), dtype=bool)} if name == "vggish" else None
        store.write_shard(
            extracted,
            imported,
            np.stack([arrays[name][v] for v in imported]),
            {"extractor": name, "weights_id": "x"},
            extra=extra,
        )
        with h5py.File(outputs[name]) as a, h5py.File(extracted) as b:
            assert sorted(a) == sorted(b) == sorted(["video_ids", "features"] + (["has_audio"] if extra else []))
            for key in a:
                assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
                x, y = a[key][()], b[key][()]
                same = x.tolist() == y.tolist() if x.dtype == object else x.tobytes() == y.tobytes()
                assert same, key  # strings compared as the stored UTF-8 bytes, numbers as raw bytes


def test_verify_passes_and_provenance_says_released(release, tmp_path, capsys):
    root, ids, _, _ = release
    outputs, _ = _import(root, ids, tmp_path / "features", threads=1)
    assert main(["verify", str(tmp_path / "features")]) == 0
    assert "3 shards checked, 0 corrupt" in capsys.readouterr().out
    assert main(["provenance", outputs["resnet152"]]) == 0
    doc = json.loads(capsys.readouterr().out)
    attrs = doc["attributes"]
    assert doc["kind"] == "feature shard" and attrs["source"] == "released"
    assert attrs["weights_id"] == "released:res152" and attrs["released_folder"] == str(root / "res152")
    assert attrs["config_json"] == {"source": "released", "released_dir": str(root), "version": 1}
    assert len(attrs["released_sha256"]) == 64
    with h5py.File(outputs["vggish"]) as f:
        assert f["has_audio"][()].all() and "audio track" in f.attrs["has_audio_note"]


def test_files_checksum_follows_the_files(release, tmp_path):
    root, ids, _, _ = release
    first, _ = _import(root, ids, tmp_path / "a")
    again, _ = _import(root, ids, tmp_path / "b", threads=1)
    sums = [{n: store.read_shard(o[n])[2]["released_sha256"] for n in o} for o in (first, again)]
    assert sums[0] == sums[1]
    a = np.load(_path(root, "vggish", GOOD[0]))
    a[0, 0] += 1
    np.save(_path(root, "vggish", GOOD[0]), a)
    changed, _ = _import(root, ids, tmp_path / "c")
    sha = {n: store.read_shard(changed[n])[2]["released_sha256"] for n in changed}
    assert sha["vggish"] != sums[0]["vggish"] and sha["resnet152"] == sums[0]["resnet152"]


def _cli(root: Path, out: Path, *ids: str) -> int:
    return main(
        [
            "import",
            "features",
            "--released-dir",
            str(root),
            "--out-vggish",
            str(out / "v.h5"),
            "--out-resnet152",
            str(out / "r.h5"),
            "--out-r2plus1d-18",
            str(out / "s.h5"),
            "--failures",
            str(out / "f.tsv"),
            "--",
            *ids,
        ]
    )


def test_cli_imports_ids_that_start_with_a_dash(tmp_path):
    ids = ["-0A9sun15YA", "--9Ftk_o2_o", "BjCEufrlXm4"]  # YouTube ids may start with '-'
    write_release(tmp_path / "release", ids)
    assert _cli(tmp_path / "release", tmp_path / "f", *ids) == 0
    assert store.read_shard(tmp_path / "f" / "r.h5")[0] == ids


def test_cli_import_names_a_bad_id(tmp_path):
    out = tmp_path / "f"
    assert _cli(tmp_path, out, "../../etc/xx") == 1
    assert not out.exists()


def test_parse_refuses_a_model_trained_on_released_features(tmp_path):
    from avvp_pipeline.models.checkpoint import write_model
    from avvp_pipeline.models.registry import build_model
    from avvp_pipeline.models.rows import full_options
    from avvp_pipeline.parse import ModelMismatch, VideoParser

    cfg = {"source": "released", "released_dir": "/data/llp/feats", "version": 1}
    features = {
        name: {"source": "released", "weights_id": f"released:{folder}"} for name, folder in RELEASE_FOLDERS.items()
    }
    write_model(
        tmp_path / "model.pt",
        model_name="han",
        state_dict=build_model("han", {}).state_dict(),
        train_config=full_options("han"),
        features=features,
        feature_configs={name: cfg for name in RELEASE_FOLDERS},
        classes=[],
        summary={"selected_epoch": 1},
        run_hash="x",
    )
    with pytest.raises(
        ModelMismatch,
        match=r"model.pt: the model was trained on the released LLP features "
        r"\(imported from /data/llp/feats\).*features.source: extract",
    ):
        VideoParser.load(tmp_path / "model.pt", device="cpu")


# --- planning -------------------------------------------------------------------------------------


def _csvs(folder: Path, ids: dict[str, list[str]]) -> None:
    folder.mkdir(parents=True)
    files = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}
    for split, name in files.items():
        rows = "".join(f"{vid}_0_10\tSpeech\n" for vid in ids[split])
        (folder / name).write_text(f"filename\tevent_labels\n{rows}")


def _released_cfg(annotations: Path, root: Path) -> tuple[dict, dict]:
    return (
        {"annotations_dir": str(annotations), "videos_dir": None, "synth": {"enabled": True}},
        {"source": "released", "released_dir": str(root), "shard_size": 2},
    )


def test_planning_skips_ids_with_missing_or_unusable_files(tmp_path, caplog):
    ids = {"train": ["trainvideo1", "trainvideo2", "trainvideo3"], "val": ["valvideo001"], "test": ["testvideo01"]}
    _csvs(tmp_path / "ann", ids)
    root = tmp_path / "release"
    write_release(root, sorted(sum(ids.values(), [])) + ["notinanycsv"])
    _path(root, "r2plus1d_18", "trainvideo2").unlink()
    _path(root, "vggish", "valvideo001").unlink()
    _path(root, "vggish", "valvideo001").symlink_to(tmp_path / "gone.npy")
    (root / "res152" / "notes.txt").write_text("x")
    dataset, features = _released_cfg(tmp_path / "ann", root)
    with caplog.at_level(logging.WARNING):
        plan = plan_videos(dataset, 2, features)
    assert plan.video_ids == ["testvideo01", "trainvideo1", "trainvideo3"] and plan.num_shards == 2
    assert plan.missing == ["trainvideo2", "valvideo001"]
    assert plan.unusable == [
        (str(_path(root, "vggish", "valvideo001")), f"dangling symbolic link (to {tmp_path / 'gone.npy'})")
    ]
    assert "2 of 5 videos are missing from" in caplog.text and "r2plus1d_18/ 1" in caplog.text
    assert plan.shard_released_files(1) == [str(_path(root, n, "trainvideo3")) for n in RELEASE_FOLDERS]


def test_released_planning_needs_annotations_and_the_release_folders(tmp_path):
    ids = {"train": ["trainvideo1"], "val": ["valvideo001"], "test": ["testvideo01"]}
    _csvs(tmp_path / "ann", ids)
    dataset, features = _released_cfg(tmp_path / "ann", tmp_path / "release")
    src = data_source(dataset, features)
    assert src.released and src.videos_dir is None and not src.synthetic
    with pytest.raises(PlanError, match="features.released_dir is not set"):
        data_source(dataset, {**features, "released_dir": None})
    with pytest.raises(PlanError, match="dataset.annotations_dir and features.released_dir are not set"):
        data_source({"annotations_dir": None, "videos_dir": None, "synth": {"enabled": True}}, {"source": "released"})
    with pytest.raises(PlanError, match="release: folder not found"):
        plan_videos(dataset, 2, features)
    write_release(tmp_path / "release", ["somethingel"])
    with pytest.raises(PlanError, match="none of the 3 annotated videos has all its feature files"):
        plan_videos(dataset, 2, features)
    (tmp_path / "release" / "res152").rename(tmp_path / "res152")
    need = r"no folder res152/ \(the resnet152 features the configured rows read; they need vggish/, res152/"
    with pytest.raises(PlanError, match=need):
        plan_videos(dataset, 2, features)


# --- end to end ----------------------------------------------------------------------------------


def test_bench_import_on_a_generated_folder(tmp_path, capsys):
    folder = tmp_path / "release"
    args = ["bench", "import", "--released-dir", str(folder), "--generate", "5", "--repeat", "1", "--shard-size", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "5 videos, 15 files" in out and "raw read" in out and "import / raw read throughput" in out
    mtimes = sorted(p.stat().st_mtime_ns for p in folder.rglob("*.npy"))
    assert main(args) == 0  # the folder is reused, not rewritten
    assert sorted(p.stat().st_mtime_ns for p in folder.rglob("*.npy")) == mtimes


def test_cli_import_refuses_a_release_folder_that_is_not_there(tmp_path, caplog):
    out = tmp_path / "f"
    assert _cli(tmp_path / "nonexistent", out, "BjCEufrlXm4") == 1
    assert "nonexistent" in caplog.text and "no such folder" in caplog.text
    assert not (out / "v.h5").exists()


def test_import_refuses_one_path_given_to_two_outputs(tmp_path):
    write_release(tmp_path / "release", GOOD)
    same = str(tmp_path / "out" / "shard.h5")
    with pytest.raises(ValueError, match="given as both the vggish shard and the resnet152 shard"):
        import_shard(GOOD, str(tmp_path / "release"), {"vggish": same, "resnet152": same}, str(tmp_path / "f.tsv"), {})
    assert not Path(same).exists()


def test_a_fifo_named_like_a_feature_file_is_a_failure_line_not_a_hang(tmp_path, fifo):
    root = tmp_path / "release"
    write_release(root, GOOD)
    _path(root, "vggish", GOOD[0]).unlink()
    fifo(_path(root, "vggish", GOOD[0]))
    outputs, failures = _import(root, GOOD, tmp_path / "out")
    assert failures == [(GOOD[0], str(_path(root, "vggish", GOOD[0])), "not a regular file (a FIFO)")]
    assert store.read_shard(outputs["vggish"])[0] == GOOD[1:]


def test_an_oversized_npy_header_is_called_that(tmp_path):
    path = tmp_path / "big.npy"
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (10, 128), }".ljust(20000) + b"\n"
    path.write_bytes(b"\x93NUMPY\x02\x00" + len(header).to_bytes(4, "little") + header)
    with pytest.raises(released.BadFeatureFile, match=r"header too large \(20001 bytes"):
        released.read_feature_file(str(path), "vggish")


def _import_planned(root: Path, feature_dir: Path):
    """Import one vggish shard of GOOD where planning puts it; the plan and the shard's path."""
    from avvp_pipeline.plan import VideoPlan

    plan = VideoPlan(None, GOOD, len(GOOD), released_dir=str(root), kinds=("vggish",))
    shard = feature_dir / "vggish" / "shard-0000.h5"
    import_shard(GOOD, str(root), {"vggish": str(shard)}, str(feature_dir / "f.tsv"), {}, progress=False)
    return plan, shard


def test_a_file_replaced_by_an_older_one_reruns_the_import_a_touch_does_not(tmp_path):
    """The import job's input (its manifest) gets a new time when a released file's content changes, even
    if the new file's time is older (cp -p, tar x, rsync -a); not when only the time changed."""
    from avvp_pipeline.plan_manifests import manifest_path, write_import_manifests

    root, feature_dir = tmp_path / "release", tmp_path / "features"
    write_release(root, GOOD, kinds=("vggish",))
    assert write_import_manifests(plan := _import_planned(root, feature_dir)[0], str(feature_dir)) == 1
    manifest = Path(manifest_path(str(feature_dir), "vggish", 0))
    shard = feature_dir / "vggish" / "shard-0000.h5"
    os.utime(manifest, (1, 1))  # as if written long before the shard
    assert write_import_manifests(plan, str(feature_dir)) == 0 and manifest.stat().st_mtime == 1

    path = _path(root, "vggish", GOOD[1])
    os.utime(path, (2, 2))  # touched: same content
    assert write_import_manifests(plan, str(feature_dir)) == 0 and manifest.stat().st_mtime == 1
    assert "\t2000000000\t" in manifest.read_text()

    np.save(path, np.zeros(SHAPES["vggish"], np.float32))  # new content, same size, an older time
    os.utime(path, (3, 3))
    assert write_import_manifests(plan, str(feature_dir)) == 1
    assert manifest.stat().st_mtime > shard.stat().st_mtime  # snakemake reruns the import


def test_verify_reports_a_shard_that_no_longer_matches_its_released_files(tmp_path, capsys):
    root = tmp_path / "release"
    write_release(root, GOOD, kinds=("vggish",))
    _, shard = _import_planned(root, tmp_path / "features")
    assert main(["verify", str(shard)]) == 0
    np.save(_path(root, "vggish", GOOD[0]), np.ones(SHAPES["vggish"], np.float32))
    assert main(["verify", str(shard)]) == 1
    out = capsys.readouterr().out
    assert f"STALE    {shard}: no longer matches its source files in {root / 'vggish'}" in out
    assert "1 no longer match their released files" in out
