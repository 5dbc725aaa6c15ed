"""What made a file: `avvp provenance FILE` for shards, checkpoints, metrics, refined labels, predictions."""

from __future__ import annotations

import json
from pathlib import Path


def _h5_summary(path: Path) -> dict:
    import h5py

    from .fileio import open_hdf5, read_strings

    with open_hdf5(path) as f:
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
        for k in ("config_json", "stats", "dropped_rows"):
            if isinstance(attrs.get(k), str):
                try:
                    attrs[k] = json.loads(attrs[k])
                except ValueError:
                    pass
        datasets = {k: f"{tuple(f[k].shape)} {f[k].dtype}" for k in f.keys() if isinstance(f[k], h5py.Dataset)}
        ids = read_strings(f["video_ids"]) if "video_ids" in f else []
    kind = (
        "feature shard"
        if "extractor" in attrs
        else "refined labels"
        if "audio_labels" in datasets
        else "predictions"
        if "frame_prob" in datasets
        else "dataset index"
        if "splits" in attrs or "train" in datasets
        else "HDF5 file"
    )
    if kind == "dataset index":
        attrs.pop("dropped_rows", None)
    out = {"file": str(path), "kind": kind, "attributes": attrs, "datasets": datasets}
    if ids:
        out["videos"] = {"count": len(ids), "first": ids[:5]}
    return out


def _checkpoint_summary(path: Path) -> dict:
    from .models.checkpoint import check_model, check_resume, file_kind
    from .torch_files import read_torch_file

    obj = read_torch_file(path, kind="a model.pt or checkpoint.pt written by avvp-pipeline")
    kind = file_kind(obj)
    if kind == "resume":
        ckpt = check_resume(path, obj)
        return {
            "file": str(path),
            "kind": "training checkpoint (resume state)",
            "epoch": ckpt["epoch"],
            "run_hash": ckpt["run_hash"],
            "best_epoch": ckpt["best_epoch"],
        }
    if kind == "state_dict":
        return {
            "file": str(path),
            "kind": "weights (state dict)",
            "tensors": len(obj),
            "values": sum(v.numel() for v in obj.values()),
        }
    ckpt = check_model(path, obj)
    out = {"file": str(path), "kind": "trained model", "model": ckpt["model_name"]}
    if ckpt.get("imported_from") is not None:  # avvp import model: weights trained elsewhere
        out["imported from"] = ckpt["imported_from"]
    return {
        **out,
        "avvp_pipeline_version": ckpt.get("avvp_pipeline_version"),
        "run_hash": ckpt.get("run_hash"),
        "train_config": ckpt.get("train_config"),
        "summary": ckpt.get("summary"),
        "features (inputs)": ckpt.get("features"),
        "feature kind and shape per input slot": ckpt.get("inputs") or "not recorded (vggish, resnet152, r2plus1d_18)",
        "feature extraction configs": ckpt.get("feature_configs"),
    }


def provenance(path: str | Path) -> dict:
    """A JSON-able description of what made ``path`` (config, code version, weights, inputs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return _h5_summary(path)
    if suffix in (".pt", ".pth"):
        return _checkpoint_summary(path)
    if suffix == ".json":
        doc = json.loads(path.read_text())
        if "f_scores" in doc:
            keep = (
                "model",
                "split",
                "gate",
                "n_videos",
                "selected_epoch",
                "features",
                "avvp_pipeline_version",
                "description",
                "skipped_videos",
            )
            return {"file": str(path), "kind": "metrics", **{k: doc[k] for k in keep if k in doc}}
        if "epochs" in doc and "summary" in doc:
            return {
                "file": str(path),
                "kind": "training history",
                "summary": doc["summary"],
                "epochs": len(doc["epochs"]),
            }
        return {"file": str(path), "kind": "JSON file", "keys": sorted(doc)}
    raise ValueError(f"{path}: unknown kind of file (expected .h5, .pt or .json)")
