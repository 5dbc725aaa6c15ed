"""LLP evaluation protocol (segment- and event-level F-scores), fully vectorised.

Equals the official HAN ``utils/eval_metrics.py`` (the HAN release):

* per video, per class and modality: TP/FP/FN over the 10 segments (segment level) or over
  events = maximal runs of consecutive ones (event level; a predicted event is a TP if *any* truth
  event of that class has ``intersection >= 0.5 * union``, else an FP; a truth event is an FN if no
  predicted event reaches that; matching is not one-to-one, but with maximal runs a run can reach
  IoU >= 0.5 with at most one run of the other side, so nothing is ever double-counted);
* a class is counted iff ``TP + FP > 0`` or ``TP + FN > 0``; ``F = 2TP / (2TP + FP + FN)``;
  video score = mean F over counted classes, **1.0 when no class is counted**;
* audio-visual arrays are the elementwise products of audio and visual; "Event@AV" sums the audio
  and visual TP/FP/FN per class before computing F; "Type@AV" is the mean of the audio, visual and
  audio-visual dataset scores;
* dataset score = 100 x mean over videos.

Implementation (no Python loop over videos or classes): each 10-segment row is encoded as a
10-bit integer code. Segment counts are popcounts of ``p & g``, ``p & ~g`` and ``~p & g``. For
events, tables built once (vectorised, ~10 ms) hold the runs of all 1024 codes (at most 5 each)
and, for every pair of codes (a, b), how many runs of a reach IoU >= 0.5 with some run of b; the
event TP/FP/FN of every (video, class) are then two gathers from that 1024 x 1024 table.

Any clip length and class count (:func:`llp_f_scores_padded`, :func:`per_video_scores_padded`):
videos of different lengths come as one array padded to the longest, ``(N, C, Tmax)``, with their
lengths ``(N,)``; seconds past a video's length are ignored. Segment counts are counts of ones.
Events are found on the flattened array (a run starts where a one follows a zero or a row start,
ends where a zero or the row end follows), every pair of a predicted and a true run that overlap
is listed with two ``searchsorted`` calls (both sides are sorted, disjoint intervals, so there are
fewer such pairs than runs), and the pairs reaching ``2 * intersection >= union`` mark their
predicted and true run as reached; ``bincount`` over the rows gives TP/FP/FN. When ``Tmax <= 10``
the 1024-code tables above are used instead (faster at that size; ``avvp bench metrics``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "METRIC_KEYS",
    "llp_f_scores",
    "per_video_scores",
    "binarize_predictions",
    "llp_f_scores_padded",
    "per_video_scores_padded",
    "valid_seconds",
]

NUM_CLASSES = 25
NUM_SEGMENTS = 10
_MAX_RUNS = (NUM_SEGMENTS + 1) // 2  # at most 5 maximal runs in 10 segments

METRIC_KEYS: tuple[str, ...] = (
    "seg_audio",
    "seg_visual",
    "seg_av",
    "seg_type",
    "seg_event",
    "ev_audio",
    "ev_visual",
    "ev_av",
    "ev_type",
    "ev_event",
)


@lru_cache(maxsize=1)
def _run_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of every 10-bit code: ``(start, end, valid)``, each ``(1024, 5)``.

    Bit t of a code is segment t. Runs are maximal, half-open ``[start, end)``, left to right;
    unused slots have ``valid = False`` and ``start = end = 0``.
    """
    n_codes = 1 << NUM_SEGMENTS
    bits = (np.arange(n_codes)[:, None] >> np.arange(NUM_SEGMENTS)[None, :]) & 1  # (1024, 10)
    padded = np.zeros((n_codes, NUM_SEGMENTS + 2), dtype=np.int8)
    padded[:, 1:-1] = bits
    diff = np.diff(padded, axis=1)  # (1024, 11): +1 at a run start t, -1 at a run end t
    starts_r, starts_t = np.nonzero(diff == 1)  # row-major: runs in order within each code
    ends_r, ends_t = np.nonzero(diff == -1)
    # Slot of each run within its code = running count of starts in that code.
    counts = np.bincount(starts_r, minlength=n_codes)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    slot = np.arange(starts_r.size) - first[starts_r]
    start = np.zeros((n_codes, _MAX_RUNS), dtype=np.int16)
    end = np.zeros((n_codes, _MAX_RUNS), dtype=np.int16)
    valid = np.zeros((n_codes, _MAX_RUNS), dtype=bool)
    start[starts_r, slot] = starts_t
    end[ends_r, slot] = ends_t
    valid[starts_r, slot] = True
    for a in (start, end, valid):
        a.setflags(write=False)
    return start, end, valid


@lru_cache(maxsize=1)
def _event_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables for counting from 10-bit codes (built once, about 10 ms, 1 MB).

    * ``n_runs`` (1024,): number of runs (events) of a code;
    * ``reach_flat`` (1024 * 1024,) uint8, row-major ``(a, b)``: how many runs of code ``a`` have
      ``intersection >= 0.5 * union`` with at least one run of code ``b``. So for prediction
      code p and truth code g: TP = reach[p, g], FP = n_runs[p] - TP, and
      FN = n_runs[g] - reach[g, p] (IoU is symmetric);
    * ``popcount`` (1024,): number of ones of a code (segment-level counts).
    """
    start, end, valid = _run_table()
    n_codes = 1 << NUM_SEGMENTS
    # All 55 intervals [s, e), 0 <= s < e <= 10, plus a dummy id 55 for unused run slots.
    intervals = [(s, e) for s in range(NUM_SEGMENTS) for e in range(s + 1, NUM_SEGMENTS + 1)]
    n_int = len(intervals)
    interval_id = np.full((NUM_SEGMENTS + 1, NUM_SEGMENTS + 1), n_int, dtype=np.int64)
    for k, (s, e) in enumerate(intervals):
        interval_id[s, e] = k
    run_ids = np.where(valid, interval_id[start, end], n_int)  # (1024, 5)

    iv = np.asarray(intervals, dtype=np.int64)
    s_r, e_r = iv[:, 0, None, None], iv[:, 1, None, None]  # (55, 1, 1)
    s_c, e_c = start[None].astype(np.int64), end[None].astype(np.int64)  # (1, 1024, 5)
    inter = np.maximum(np.minimum(e_r, e_c) - np.maximum(s_r, s_c), 0)
    union = (e_r - s_r) + (e_c - s_c) - inter  # |A| + |B| - |A & B|
    # IoU >= 0.5 inclusive  <=>  2 * inter >= union (exact in integers); inter > 0 rules out
    # unused slots (start = end = 0) and disjoint runs.
    match = ((inter > 0) & (2 * inter >= union) & valid[None]).any(axis=-1)  # (55, 1024)
    match = np.concatenate([match, np.zeros((1, n_codes), dtype=bool)])  # dummy row: no match
    # reach[a, b] = sum over the runs r of a of match[r, b]
    reach = match[run_ids].sum(axis=1, dtype=np.uint8)  # (1024, 1024)
    n_runs = valid.sum(axis=1).astype(np.int64)
    popcount = np.array([bin(c).count("1") for c in range(n_codes)], dtype=np.int64)
    tables = (n_runs, reach.ravel(), popcount)
    for a in tables:
        a.setflags(write=False)
    return tables


def _check_binary(name: str, x: np.ndarray) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 3 or a.shape[1:] != (NUM_CLASSES, NUM_SEGMENTS):
        raise ValueError(
            f"{name} must have shape (N, {NUM_CLASSES}, {NUM_SEGMENTS}) (video, class, second), got {a.shape}"
        )
    return _as_bool(name, a)


def _as_bool(name: str, a: np.ndarray) -> np.ndarray:
    """``a`` as a bool array; it must hold only 0 and 1 (bool, integer or float)."""
    if a.dtype == bool:
        return a
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must be a numeric or boolean 0/1 array, got dtype {a.dtype}")
    b = a != 0
    if a.size and not np.array_equal(a, b):  # values other than 0 and 1 (NaN included)
        bad = a[(a != 0) & (a != 1) | (a != a)].ravel()[0]
        raise ValueError(f"{name} must contain only 0 and 1, found {bad!r}")
    return b


def _codes(x: np.ndarray) -> np.ndarray:
    """(N, C, T) bool, T <= 10 -> (N, C) integer codes with bit t = segment t."""
    u = x.view(np.uint8)
    code = u[..., 0].astype(np.intp)
    for t in range(1, x.shape[-1]):
        code += u[..., t].astype(np.intp) << t
    return code


def _segment_counts(cp: np.ndarray, cg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment-level TP, FP, FN per (video, class) from codes, each (N, 25) int."""
    pop = _event_tables()[2]
    mask = (1 << NUM_SEGMENTS) - 1
    return pop[cp & cg], pop[cp & ~cg & mask], pop[~cp & cg & mask]


def _event_counts(cp: np.ndarray, cg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event-level TP, FP, FN per (video, class) from codes, each (N, 25) int.

    A predicted run is a TP iff it reaches IoU >= 0.5 with some truth run, else an FP; a truth
    run is an FN iff no predicted run reaches IoU >= 0.5 with it (``_event_tables``).
    """
    n_runs, reach_flat, _ = _event_tables()
    n_codes = 1 << NUM_SEGMENTS
    tp = reach_flat[cp * n_codes + cg].astype(np.int64)
    gt_reached = reach_flat[cg * n_codes + cp].astype(np.int64)
    return tp, n_runs[cp] - tp, n_runs[cg] - gt_reached


def _dense_segment_counts(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment-level TP, FP, FN per (video, class) of bool arrays (N, C, T), each (N, C) int."""
    tp = np.count_nonzero(p & g, axis=-1)
    return tp, np.count_nonzero(p, axis=-1) - tp, np.count_nonzero(g, axis=-1) - tp


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of ones of every row of ``x`` (..., T) bool, as half-open ``[start, end)``
    positions in ``x.ravel()``, in order (a run never crosses a row end)."""
    rows = x.reshape(-1, x.shape[-1])
    first = rows.copy()
    first[:, 1:] &= ~rows[:, :-1]
    last = rows.copy()
    last[:, :-1] &= ~rows[:, 1:]
    return np.flatnonzero(first), np.flatnonzero(last) + 1


def _dense_event_counts(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event-level TP, FP, FN per (video, class) of bool arrays (N, C, T), each (N, C) int.

    Same rule as :func:`_event_counts`, on runs found in the flattened arrays.
    """
    shape, t = p.shape[:-1], p.shape[-1]
    n_rows = int(np.prod(shape))
    ps, pe = _runs(p)
    gs, ge = _runs(g)
    # The true runs overlapping predicted run i are lo[i] .. hi[i] - 1 (runs are sorted and disjoint).
    lo = np.searchsorted(ge, ps, side="right")
    hi = np.searchsorted(gs, pe, side="left")
    k = hi - lo
    pair_p = np.repeat(np.arange(ps.size), k)
    pair_g = lo[pair_p] + np.arange(pair_p.size) - (np.cumsum(k) - k)[pair_p]
    inter = np.minimum(pe[pair_p], ge[pair_g]) - np.maximum(ps[pair_p], gs[pair_g])
    union = (pe - ps)[pair_p] + (ge - gs)[pair_g] - inter
    hit = 2 * inter >= union  # IoU >= 0.5, exact in integers
    p_hit = np.zeros(ps.size, dtype=bool)
    p_hit[pair_p[hit]] = True
    g_hit = np.zeros(gs.size, dtype=bool)
    g_hit[pair_g[hit]] = True
    p_row, g_row = ps // t, gs // t
    tp = np.bincount(p_row[p_hit], minlength=n_rows)
    fp = np.bincount(p_row, minlength=n_rows) - tp
    fn = np.bincount(g_row, minlength=n_rows) - np.bincount(g_row[g_hit], minlength=n_rows)
    return tp.reshape(shape), fp.reshape(shape), fn.reshape(shape)


def _video_f(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per-video mean F over counted classes (1.0 when none is counted); inputs (N, C)."""
    denom = 2 * tp + fp + fn
    counted = denom > 0  # == (TP + FP > 0) or (TP + FN > 0) for non-negative counts
    f = np.divide(2.0 * tp, denom, out=np.zeros(tp.shape, dtype=np.float64), where=counted)
    n_counted = counted.sum(axis=-1)
    total = f.sum(axis=-1)
    return np.where(n_counted > 0, total / np.maximum(n_counted, 1), 1.0)


def _scores(pa: np.ndarray, pv: np.ndarray, ga: np.ndarray, gv: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Per-video scores of bool arrays (N, C, T) of one shape: the tables up to 10 seconds, runs beyond."""
    if pa.shape[-1] <= NUM_SEGMENTS:
        pa, pv, ga, gv = _codes(pa), _codes(pv), _codes(ga), _codes(gv)
        counters = (("segment", _segment_counts), ("event", _event_counts))
    else:
        counters = (("segment", _dense_segment_counts), ("event", _dense_event_counts))
    pav, gav = pa & pv, ga & gv  # audio-visual = elementwise product of the 0/1 arrays
    out: dict[str, dict[str, np.ndarray]] = {}
    for level, count in counters:
        tpa, fpa, fna = count(pa, ga)
        tpv, fpv, fnv = count(pv, gv)
        tpav, fpav, fnav = count(pav, gav)
        out[level] = {
            "audio": _video_f(tpa, fpa, fna),
            "visual": _video_f(tpv, fpv, fnv),
            "av": _video_f(tpav, fpav, fnav),
            "event": _video_f(tpa + tpv, fpa + fpv, fna + fnv),
        }
    return out


def _same_shape(pa: np.ndarray, pv: np.ndarray, ga: np.ndarray, gv: np.ndarray) -> None:
    if len({a.shape for a in (pa, pv, ga, gv)}) != 1:
        raise ValueError(
            "pred_audio, pred_visual, gt_audio, gt_visual must have the same shape, got "
            f"{pa.shape}, {pv.shape}, {ga.shape}, {gv.shape}"
        )


def per_video_scores(
    pred_audio: np.ndarray,
    pred_visual: np.ndarray,
    gt_audio: np.ndarray,
    gt_visual: np.ndarray,
) -> dict[str, dict[str, np.ndarray]]:
    """Per-video LLP scores in [0, 1].

    Returns ``{"segment": {...}, "event": {...}}``, each mapping ``audio``, ``visual``, ``av`` and
    ``event`` (the Event@AV combination) to a float64 array ``(N,)``. Inputs as for
    :func:`llp_f_scores`.
    """
    pa = _check_binary("pred_audio", pred_audio)
    pv = _check_binary("pred_visual", pred_visual)
    ga = _check_binary("gt_audio", gt_audio)
    gv = _check_binary("gt_visual", gt_visual)
    _same_shape(pa, pv, ga, gv)
    return _scores(pa, pv, ga, gv)


def valid_seconds(lengths: np.ndarray | None, n: int, t_max: int) -> np.ndarray:
    """``(N, Tmax)`` bool: second t of video i is inside it (``t < lengths[i]``).

    ``lengths`` is ``(N,)`` integers in ``1 .. Tmax``; ``None`` means every video lasts ``Tmax``.
    """
    if lengths is None:
        return np.ones((n, t_max), dtype=bool)
    a = np.asarray(lengths)
    if a.shape != (n,):
        raise ValueError(f"lengths must have shape ({n},) (one per video), got {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not (np.issubdtype(a.dtype, np.floating) and np.array_equal(a, np.round(a))):
            raise ValueError(f"lengths must be whole numbers of seconds, got dtype {a.dtype}")
    if a.size and (a.min() < 1 or a.max() > t_max):
        bad = a[(a < 1) | (a > t_max)][0]
        raise ValueError(f"lengths must lie in 1 .. {t_max} (the padded length), found {bad}")
    return np.arange(t_max) < a.astype(np.int64)[:, None]


def per_video_scores_padded(
    pred_audio: np.ndarray,
    pred_visual: np.ndarray,
    gt_audio: np.ndarray,
    gt_visual: np.ndarray,
    lengths: np.ndarray | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Per-video scores in [0, 1] of videos of any length and any number of classes.

    The four arrays are 0/1 ``(N, C, Tmax)`` (video, class, second), padded to the longest video;
    ``lengths`` ``(N,)`` gives each video's number of seconds (``None``: all ``Tmax``); whatever the
    arrays hold past a video's length is ignored. Returns what :func:`per_video_scores` returns, and
    equals it for LLP's shape.
    """
    arrays = [np.asarray(x) for x in (pred_audio, pred_visual, gt_audio, gt_visual)]
    names = ("pred_audio", "pred_visual", "gt_audio", "gt_visual")
    for name, a in zip(names, arrays):
        if a.ndim != 3 or 0 in a.shape[1:]:
            raise ValueError(f"{name} must have shape (N, C, Tmax) (video, class, second), got {a.shape}")
    pa, pv, ga, gv = (_as_bool(name, a) for name, a in zip(names, arrays))
    _same_shape(pa, pv, ga, gv)
    n, _, t_max = pa.shape
    valid = valid_seconds(lengths, n, t_max)
    if not valid.all():
        pa, pv, ga, gv = (x & valid[:, None, :] for x in (pa, pv, ga, gv))
    return _scores(pa, pv, ga, gv)


def _dataset_scores(scores: dict[str, dict[str, np.ndarray]], caller: str) -> dict[str, float]:
    """The ten scores in percent (``METRIC_KEYS``) from per-video scores."""
    n = scores["segment"]["audio"].shape[0]
    if n == 0:
        raise ValueError(f"{caller} needs at least one video (N >= 1)")
    result: dict[str, float] = {}
    for level, prefix in (("segment", "seg"), ("event", "ev")):
        s = scores[level]
        audio = 100.0 * float(np.mean(s["audio"]))
        visual = 100.0 * float(np.mean(s["visual"]))
        av = 100.0 * float(np.mean(s["av"]))
        result[f"{prefix}_audio"] = audio
        result[f"{prefix}_visual"] = visual
        result[f"{prefix}_av"] = av
        result[f"{prefix}_type"] = (audio + visual + av) / 3.0
        result[f"{prefix}_event"] = 100.0 * float(np.mean(s["event"]))
    return {k: result[k] for k in METRIC_KEYS}


def llp_f_scores(
    pred_audio: np.ndarray,
    pred_visual: np.ndarray,
    gt_audio: np.ndarray,
    gt_visual: np.ndarray,
) -> dict[str, float]:
    """LLP F-scores in percent (the official protocol).

    All four arrays are 0/1 (bool, integer or float) of shape ``(N, 25, 10)`` = (video, class in
    LLP order, second); the audio-visual arrays are the products of audio and visual. Returns a
    dict with exactly the keys ``seg_audio seg_visual seg_av seg_type seg_event ev_audio ev_visual
    ev_av ev_type ev_event`` (100 x mean over videos; ``*_type`` = mean of audio, visual and av;
    ``*_event`` = the per-video score with audio and visual TP/FP/FN summed per class).
    """
    return _dataset_scores(per_video_scores(pred_audio, pred_visual, gt_audio, gt_visual), "llp_f_scores")


def llp_f_scores_padded(
    pred_audio: np.ndarray,
    pred_visual: np.ndarray,
    gt_audio: np.ndarray,
    gt_visual: np.ndarray,
    lengths: np.ndarray | None = None,
) -> dict[str, float]:
    """The ten F-scores of :func:`llp_f_scores` (the same protocol) for videos of any length and any
    number of classes: 0/1 arrays ``(N, C, Tmax)`` padded to the longest video, and ``lengths``
    ``(N,)`` as for :func:`per_video_scores_padded`."""
    scores = per_video_scores_padded(pred_audio, pred_visual, gt_audio, gt_visual, lengths)
    return _dataset_scores(scores, "llp_f_scores_padded")


def binarize_predictions(
    frame_prob: np.ndarray,
    global_prob: np.ndarray | None,
    *,
    gate: str = "global",
    audio_prob: np.ndarray | None = None,
    visual_prob: np.ndarray | None = None,
    threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Binarise model outputs into LLP predictions ``(pred_audio, pred_visual)``, uint8 (N, C, T) (LLP:
    (N, 25, 10)).

    ``frame_prob`` is ``(N, T, 2, C)`` segment probabilities (modality 0 audio, 1 visual).
    ``Pa[c, t] = 1[frame_prob[t, 0, c] >= threshold] * o_a[c]`` and likewise for visual, where
    with ``gate="global"`` (HAN / CM-Co) ``o_a = o_v = 1[global_prob >= threshold]`` and with
    ``gate="modality"`` (MA's released eval) ``o_a = 1[audio_prob >= threshold]``,
    ``o_v = 1[visual_prob >= threshold]`` (each ``(N, C)``). Thresholds are inclusive.
    """
    fp = np.asarray(frame_prob)
    if fp.ndim != 4 or fp.shape[2] != 2 or 0 in fp.shape[1:]:
        raise ValueError(f"frame_prob must have shape (N, T, 2, C) (video, second, modality, class), got {fp.shape}")
    n, n_cls = fp.shape[0], fp.shape[3]

    def video_gate(name: str, x: np.ndarray | None) -> np.ndarray:
        if x is None:
            raise ValueError(f"{name} is required with gate={gate!r}")
        a = np.asarray(x)
        if a.shape != (n, n_cls):
            raise ValueError(f"{name} must have shape ({n}, {n_cls}), got {a.shape}")
        if np.isnan(a).any():
            raise ValueError(f"{name} contains NaN")
        return (a >= threshold).astype(np.uint8)

    if gate == "global":
        o_a = o_v = video_gate("global_prob", global_prob)
    elif gate == "modality":
        o_a = video_gate("audio_prob", audio_prob)
        o_v = video_gate("visual_prob", visual_prob)
    else:
        raise ValueError(f"gate must be 'global' or 'modality', got {gate!r}")
    if np.isnan(fp).any():
        raise ValueError("frame_prob contains NaN")
    seg = (fp >= threshold).astype(np.uint8)  # (N, T, 2, C)
    pred_audio = np.ascontiguousarray(seg[:, :, 0, :].transpose(0, 2, 1)) * o_a[:, :, None]
    pred_visual = np.ascontiguousarray(seg[:, :, 1, :].transpose(0, 2, 1)) * o_v[:, :, None]
    return pred_audio.astype(np.uint8), pred_visual.astype(np.uint8)


def per_class_segment_f(
    pred_audio: np.ndarray, pred_visual: np.ndarray, gt_audio: np.ndarray, gt_visual: np.ndarray
) -> dict[str, np.ndarray]:
    """Segment-level F-score (%) per class, counts pooled over all videos and seconds.

    Inputs are binary ``(N, C, T)``, 0 past a shorter video's length; returns ``{"audio", "visual", "av"}``
    -> ``(C,)`` float arrays,
    NaN for a class that is neither predicted nor present. (The LLP protocol's headline figures
    average per video; a per-class breakdown has to pool, since most videos lack most classes.)
    """
    pairs = {
        "audio": (pred_audio, gt_audio),
        "visual": (pred_visual, gt_visual),
        "av": (pred_audio & pred_visual, gt_audio & gt_visual),
    }
    out = {}
    for name, (p, g) in pairs.items():
        p, g = _as_bool(f"pred_{name}", np.asarray(p)), np.asarray(g).astype(bool)
        tp = (p & g).sum(axis=(0, 2))
        fp = (p & ~g).sum(axis=(0, 2))
        fn = (~p & g).sum(axis=(0, 2))
        denom = 2 * tp + fp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(denom > 0, 200.0 * tp / np.maximum(denom, 1), np.nan)
    return out


def binarize_probs(probs: dict[str, np.ndarray], gate: str = "global") -> tuple[np.ndarray, np.ndarray]:
    """:func:`binarize_predictions` of a model's output dict (``frame_prob``, ``global_prob``,
    ``audio_prob``, ``visual_prob``) with ``gate``."""
    return binarize_predictions(
        probs["frame_prob"],
        probs["global_prob"],
        gate=gate,
        audio_prob=probs["audio_prob"],
        visual_prob=probs["visual_prob"],
    )
