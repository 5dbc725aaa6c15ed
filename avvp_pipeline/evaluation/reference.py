"""A plain per-video, per-class loop implementation of the LLP protocol (as the official HAN evaluation code
computes it).

Deliberately naive and readable: it is the specification the vectorised
:func:`avvp_pipeline.evaluation.metrics.llp_f_scores` is tested against, and the baseline of
``avvp bench metrics``. Written from the protocol's description, one video and class at a time.
"""

from __future__ import annotations

import numpy as np

from .metrics import METRIC_KEYS

C = 25


def ref_runs(seq):
    """Maximal runs of consecutive ones as half-open [start, end)."""
    runs = []
    t = 0
    while t < len(seq):
        if seq[t] == 1:
            s = t
            while t < len(seq) and seq[t] == 1:
                t += 1
            runs.append((s, t))
        else:
            t += 1
    return runs


def ref_iou(a, b):
    sa, sb = set(range(a[0], a[1])), set(range(b[0], b[1]))
    return len(sa & sb) / len(sa | sb)


def ref_event_counts(pred_seq, gt_seq):
    pred_ev, gt_ev = ref_runs(pred_seq), ref_runs(gt_seq)
    tp = fp = fn = 0
    for p in pred_ev:
        if any(ref_iou(p, g) >= 0.5 for g in gt_ev):
            tp += 1
        else:
            fp += 1
    for g in gt_ev:
        if not any(ref_iou(p, g) >= 0.5 for p in pred_ev):
            fn += 1
    return tp, fp, fn


def ref_segment_counts(pred_seq, gt_seq):
    tp = fp = fn = 0
    for p, g in zip(pred_seq, gt_seq):
        if p == 1 and g == 1:
            tp += 1
        elif p == 1 and g == 0:
            fp += 1
        elif p == 0 and g == 1:
            fn += 1
    return tp, fp, fn


def ref_video_f(counts):
    """counts: list over classes of (tp, fp, fn)."""
    fs = []
    for tp, fp, fn in counts:
        if tp + fp > 0 or tp + fn > 0:
            fs.append(2 * tp / (2 * tp + fp + fn))
    if not fs:
        return 1.0
    return sum(fs) / len(fs)


def llp_f_scores_loop(pa, pv, ga, gv):
    """Ten LLP F-scores (%) of 0/1 arrays (N, 25, 10), computed with plain loops."""
    pa, pv, ga, gv = (np.asarray(x).astype(int).tolist() for x in (pa, pv, ga, gv))
    per = {k: [] for k in METRIC_KEYS}
    for i in range(len(pa)):
        for prefix, count in (("seg", ref_segment_counts), ("ev", ref_event_counts)):
            ca, cv, cav, csum = [], [], [], []
            for c in range(C):
                pav_c = [x * y for x, y in zip(pa[i][c], pv[i][c])]
                gav_c = [x * y for x, y in zip(ga[i][c], gv[i][c])]
                a = count(pa[i][c], ga[i][c])
                v = count(pv[i][c], gv[i][c])
                ca.append(a)
                cv.append(v)
                cav.append(count(pav_c, gav_c))
                csum.append((a[0] + v[0], a[1] + v[1], a[2] + v[2]))
            per[f"{prefix}_audio"].append(ref_video_f(ca))
            per[f"{prefix}_visual"].append(ref_video_f(cv))
            per[f"{prefix}_av"].append(ref_video_f(cav))
            per[f"{prefix}_event"].append(ref_video_f(csum))
    out = {}
    for prefix in ("seg", "ev"):
        for m in ("audio", "visual", "av", "event"):
            vals = per[f"{prefix}_{m}"]
            out[f"{prefix}_{m}"] = 100 * sum(vals) / len(vals)
        out[f"{prefix}_type"] = (out[f"{prefix}_audio"] + out[f"{prefix}_visual"] + out[f"{prefix}_av"]) / 3
    return out
