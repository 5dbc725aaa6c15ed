"""The noise-ratio file of JoMoLD (``results/jomold/noise_ratios.h5``), one owner.

Per class, the share of the training videos labelled with it whose audio (visual) label the noise
estimator takes for noise; the ``jomold`` row flips that many labels per batch. Written by the
computation from a trained ``jomold-estimator`` (``avvp noise-ratios``) and by the import of the
``.npz`` the official code writes (``avvp import noise-ratios``); read by training. Datasets
``classes`` (C,) strings, ``audio`` / ``visual`` (C,) float64 in [0, 1]; attributes ``provenance`` and
``stats`` (JSON).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np

from ..fileio import (
    NotRegularFile,
    atomic_output,
    open_hdf5,
    open_regular,
    read_strings,
    sha256_file,
    unreadable,
    write_strings,
)
from .llp import CLASSES

MODALITIES = ("audio", "visual")


class NoiseRatioError(ValueError):
    """A noise-ratio file that cannot be used (one line naming the file and the problem)."""


def _checked(path, name: str, values, classes: list[str]) -> np.ndarray:
    """``values`` as a (C,) float64 array of ratios in [0, 1]; :class:`NoiseRatioError` naming ``path`` otherwise."""
    a = np.asarray(values)
    if a.dtype.kind not in "iuf" or a.shape != (len(classes),):
        raise NoiseRatioError(
            f"{path}: {name} ratios are a {a.dtype} array of shape {a.shape}, expected {len(classes)} numbers"
        )
    a = a.astype(np.float64)
    bad = ~np.isfinite(a) | (a < 0) | (a > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise NoiseRatioError(f"{path}: {name} ratio of class {classes[i]} is {float(a[i])}, not a number in [0, 1]")
    return a


def write_noise_ratios(
    path: str | Path, classes: list[str], audio, visual, provenance: dict, stats: dict | None = None
) -> None:
    """Write the ratios of ``classes`` atomically (checked: C numbers in [0, 1] per modality)."""
    audio, visual = (_checked(path, m, x, classes) for m, x in zip(MODALITIES, (audio, visual)))
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        write_strings(f, "classes", classes)
        f.create_dataset("audio", data=audio)
        f.create_dataset("visual", data=visual)
        f.attrs["provenance"] = json.dumps(provenance, sort_keys=True)
        f.attrs["stats"] = json.dumps(stats or {}, sort_keys=True)


def read_noise_ratios(path: str | Path, classes: tuple[str, ...] = CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """``(audio, visual)`` ratios (C,) float64 of ``classes`` (the training set's, in its order); a
    :class:`NoiseRatioError` naming the file when it is no noise-ratio file or is for other classes."""
    classes = list(classes)
    with open_hdf5(path, "a noise-ratio file") as f:
        if not {"classes", *MODALITIES} <= set(f):
            raise NoiseRatioError(f"{path}: not a noise-ratio file (needs datasets classes, audio, visual)")
        held = read_strings(f["classes"])
        audio, visual = f["audio"][()], f["visual"][()]
    if held != classes:
        raise NoiseRatioError(
            f"{path}: ratios of {len(held)} classes ({', '.join(held[:3])}, ...), but the training set has "
            f"{len(classes)} ({', '.join(classes[:3])}, ...)"
        )
    return _checked(path, "audio", audio, classes), _checked(path, "visual", visual, classes)


def noise_ratio_provenance(path: str | Path) -> dict:
    """What a training run records of the ratios it used: the file's provenance and sha256."""
    with open_hdf5(path, "a noise-ratio file") as f:
        provenance = json.loads(f.attrs.get("provenance", "{}"))
    return {**provenance, "sha256": sha256_file(path)}


def import_official(path: str | Path, out: str | Path, classes: list[str] | tuple[str, ...] = CLASSES) -> dict:
    """The official code's ``noise_ratios.npz`` (arrays ``audio`` and ``visual``, LLP class order) as the
    noise-ratio file ``out``. Read with ``allow_pickle=False``: an object array is refused, never unpickled."""
    classes = list(classes)
    try:
        with open_regular(path) as fh:
            npz = np.load(fh, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise NoiseRatioError(f"{path}: a single .npy array, not the official noise_ratios.npz")
            if not set(MODALITIES) <= set(npz.files):
                raise NoiseRatioError(
                    f"{path}: not the official noise_ratios.npz (arrays {', '.join(npz.files) or 'none'}; "
                    "needs audio and visual)"
                )
            audio, visual = npz["audio"], npz["visual"]
    except (zipfile.BadZipFile, EOFError) as exc:
        raise NoiseRatioError(f"{path}: not an .npz file ({exc})") from None
    except ValueError as exc:
        if isinstance(exc, (NoiseRatioError, NotRegularFile)):
            raise
        raise NoiseRatioError(f"{path}: cannot be read as the official noise_ratios.npz ({exc})") from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    provenance = {"source": "official npz", "file": str(Path(path).resolve()), "file_sha256": sha256_file(path)}
    checked = (_checked(path, m, x, classes) for m, x in zip(MODALITIES, (audio, visual)))
    write_noise_ratios(out, classes, *checked, provenance)
    return provenance
