"""Plain per-video, per-class loop implementations of the LLP protocol (as the official HAN evaluation code
computes it, at any clip length and class count) and of LFAV's (as its official evaluation computes it).

Deliberately naive and readable: they are the specification the vectorised
:mod:`avvp_pipeline.evaluation.metrics` and :mod:`avvp_pipeline.evaluation.lfav_metrics` are tested
against, and the baseline of ``avvp bench metrics``. Written from the protocols' descriptions, one video
and class at a time; they share no code with the vectorised modules.
"""

from __future__ import annotations

import numpy as np

from .metrics import METRIC_KEYS


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


def llp_f_scores_loop(pa, pv, ga, gv, lengths=None):
    """Ten LLP F-scores (%) of 0/1 arrays (N, C, Tmax), computed with plain loops.

    Video i is its first ``lengths[i]`` seconds (all ``Tmax`` without ``lengths``), as if it had been
    scored alone at its own length.
    """
    pa, pv, ga, gv = (np.asarray(x).astype(int).tolist() for x in (pa, pv, ga, gv))
    per = {k: [] for k in METRIC_KEYS}
    for i in range(len(pa)):
        t_i = len(pa[i][0]) if lengths is None else int(lengths[i])
        for prefix, count in (("seg", ref_segment_counts), ("ev", ref_event_counts)):
            ca, cv, cav, csum = [], [], [], []
            for c in range(len(pa[i])):
                a_p, v_p, a_g, v_g = (x[i][c][:t_i] for x in (pa, pv, ga, gv))
                pav_c = [x * y for x, y in zip(a_p, v_p)]
                gav_c = [x * y for x, y in zip(a_g, v_g)]
                a = count(a_p, a_g)
                v = count(v_p, v_g)
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


def ref_average_precision(scores, labels):
    """Interpolated average precision of one class (VOC 2011), as LFAV's ``segment_map`` ranks.

    ``scores`` is a numpy vector (its dtype decides ties); snippets are taken in the reverse of
    ``np.argsort``'s order. NaN when no label is 1.
    """
    n_pos = sum(labels)
    hits = 0
    precision, recall = [], []
    for rank, j in enumerate(reversed(np.argsort(scores).tolist()), start=1):
        hits += labels[j]
        precision.append(hits / rank)
        recall.append(hits / n_pos if n_pos else float("nan"))
    prec = [0.0] + precision + [0.0]
    rec = [0.0] + recall + [1.0]
    for k in range(len(prec) - 2, -1, -1):
        prec[k] = max(prec[k], prec[k + 1])
    ap = 0.0
    for k in range(1, len(rec)):
        if rec[k] != rec[k - 1]:  # NaN != NaN: a class without positives gives NaN
            ap += (rec[k] - rec[k - 1]) * prec[k]
    return ap


def lfav_scores_loop(frame_prob, audio_prob, visual_prob, gt_audio, gt_visual, lengths):
    """LFAV's scores (%, the keys of ``lfav_metrics.LFAV_KEYS``) with plain loops, video by video.

    Inputs as for :func:`avvp_pipeline.evaluation.lfav_metrics.lfav_scores`.
    """
    n, t_max, _, n_cls = np.shape(frame_prob)
    pred = {m: np.zeros((n, n_cls, t_max), dtype=int) for m in ("audio", "visual")}
    raw = {"audio": [], "visual": [], "av": []}  # per video, (C, T_i) probabilities
    truth = {"audio": [], "visual": [], "av": []}
    gates = {"audio": audio_prob, "visual": visual_prob}
    gts = {"audio": gt_audio, "visual": gt_visual}
    for i in range(n):
        t_i = int(lengths[i])
        for m, slot in (("audio", 0), ("visual", 1)):
            probs = np.asarray(frame_prob[i])[:t_i, slot, :].T
            raw[m].append(probs)
            truth[m].append(np.asarray(gts[m][i])[:, :t_i].astype(int))
            for c in range(n_cls):
                if gates[m][i][c] >= 0.5:
                    for t in range(t_i):
                        pred[m][i, c, t] = 1 if probs[c][t] >= 0.5 else 0
        raw["av"].append(raw["audio"][i] * raw["visual"][i])
        truth["av"].append(truth["audio"][i] * truth["visual"][i])
    out = llp_f_scores_loop(pred["audio"], pred["visual"], gt_audio, gt_visual, lengths)
    for m in ("audio", "visual", "av"):
        aps = []
        for c in range(n_cls):
            scores = np.concatenate([video[c] for video in raw[m]])
            labels = [int(x) for video in truth[m] for x in video[c]]
            aps.append(ref_average_precision(scores, labels))
        out[f"map_{m}"] = 100 * sum(aps) / len(aps)
    out["map_avg"] = (out["map_audio"] + out["map_visual"] + out["map_av"]) / 3
    out["selection"] = (out["map_avg"] + out["ev_type"]) / 2
    return out
