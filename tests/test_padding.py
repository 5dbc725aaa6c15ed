"""Padded batches of videos of different lengths (models/padding.py): every row computes, for each video, what
it computes for that video alone, and a batch without padding runs today's code.

The padding of the inputs and of the pseudo labels is random (not zeros), so a padded segment that leaked into
a real output would show.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from factories import random_feature_set

from avvp_pipeline.models.ave_avsdn import run_lstm
from avvp_pipeline.models.mmil import MMILOutput, label_aware_pool
from avvp_pipeline.models.normalize import Standardized
from avvp_pipeline.models.padding import checked_mask, first_segments
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.models.rows import MODELS, spec, train_options
from avvp_pipeline.training.cms import cms_loss, doubled_mask
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.jomold import contrastive_loss, flip_labels, ramped_ratios
from avvp_pipeline.training.losses import EPS, avss_loss, guided_loss, ma_guided_loss, smooth
from avvp_pipeline.training.refine import ma_contrastive_loss
from avvp_pipeline.training.step import batch_partners, step_loss

LENGTHS = (9, 3, 6, 1)  # real segments per video; the batch is padded to 9
T = max(LENGTHS)
EPOCH = 3  # after every recipe's init_epoch: CM-S rows add their term
# one video of 10 segments, narrow inputs (the widths do not matter here): slot -> (rows, width)
SHAPES = {"audio": (10, 16), "visual_2d": (80, 24), "visual_3d": (10, 16)}
FEATURE_MAP_SHAPES = {"audio": (64, 16), "visual_2d": (10, 16), "visual_3d": (10, 16)}  # valor++: CLAP's map
PER_SECOND_ROWS = [name for name in MODELS if spec(name).features[0] != "clap_htsat"]
# one row per network part and loss term (the others combine the same parts); every row runs with -m slow
COVERING = {
    "han",
    "han_3layers",
    "han+ours",
    "ma*+cms",
    "ma",
    "ave",
    "avsdn+ours",
    "valor+",
    "valor++",
    "jomold",
    "leap",
}
POSITION = (1, 3)  # the batch's place in its epoch: JoMoLD's flips run at their full ratios in EPOCH


def _rows(names) -> list:
    return [pytest.param(n, marks=() if n in COVERING else pytest.mark.slow) for n in names]


SEGMENT_FIELDS = ("frame_prob", "frame_att_logits", "x_audio", "x_visual", "x_visual_in", "frame_logits")
VIDEO_FIELDS = ("global_prob", "audio_prob", "visual_prob")


def _config(name: str) -> TrainConfig:
    return TrainConfig.from_dict(train_options(name))


def _train_set(n: int, seconds: int, shapes: dict, seed: int = 3):
    """``n`` videos of ``seconds`` segments (every row random, padding included) with refined labels, pseudo
    labels (random in the padding too) and one video without pseudo labels."""
    per_video = {slot: (rows // 10 * seconds if rows % 10 == 0 else rows, d) for slot, (rows, d) in shapes.items()}
    fs = random_feature_set(n, seed=seed, label_rate=0.3, shapes=per_video)
    g = torch.Generator().manual_seed(seed + 1)
    fs.labels_audio = fs.labels * (torch.rand(fs.labels.shape, generator=g) < 0.7)
    fs.labels_visual = fs.labels * (torch.rand(fs.labels.shape, generator=g) < 0.7)
    fs.pseudo_audio, fs.pseudo_visual = ((torch.rand(n, seconds, 25, generator=g) < 0.3).float() for _ in range(2))
    fs.pseudo_present = (torch.arange(n) != 1).float()
    fs.noise_ratios = tuple(torch.rand(25, generator=g, dtype=torch.float64) for _ in range(2))
    return fs


def _model(name: str, shapes: dict = SHAPES) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, dataclasses.asdict(_config(name)), shapes)


def _alone(model, fs, video: int, length: int, visual_of: int | None = None, **kwargs) -> MMILOutput:
    """``model`` on the first ``length`` seconds of one video (its visual streams from ``visual_of``), unpadded."""
    v = video if visual_of is None else visual_of
    rows = [x.shape[1] // T for x in (fs.audio, fs.video_s, fs.video_st)]
    return model(
        fs.audio[video : video + 1, : rows[0] * length],
        fs.video_s[v : v + 1, : rows[1] * length],
        fs.video_st[v : v + 1, : rows[2] * length],
        **kwargs,
    )


def _jomold_reference(model, name: str, fs, alone: list, video: MMILOutput) -> torch.Tensor:
    """JoMoLD's loss from each video run alone: the flips need only each video's modality probabilities (of
    a pass without cross-modal attention), and the contrastive loss is a mean over the real segments."""
    y, (s_a, s_v) = fs.labels, _config(name).smoothing(EPOCH)
    contrast = sum(n * contrastive_loss(o.x_audio, o.x_visual) for o, n in zip(alone, LENGTHS)) / sum(LENGTHS)
    if spec(name).jomold == "estimator":
        return guided_loss(video, y, y, y, s_a, s_v) + contrast
    ranked = [_alone(model, fs, b, n, cross=False) for b, n in enumerate(LENGTHS)]
    ranked = MMILOutput(*(torch.cat([getattr(o, f) for o in ranked]) for f in VIDEO_FIELDS), None, None)
    ratios = (ramped_ratios(r, EPOCH, *POSITION) for r in fs.noise_ratios)
    t_a, t_v = flip_labels(ranked, smooth(y, s_a), smooth(y, s_v), *ratios)
    a, v, g = (p.float().clamp(EPS, 1 - EPS) for p in (video.audio_prob, video.visual_prob, video.global_prob))
    bce = 2 * F.binary_cross_entropy(a, t_a) + F.binary_cross_entropy(v, t_v) + F.binary_cross_entropy(g, y)
    return bce + contrast


def _reference_loss(model, name: str, fs, partners) -> torch.Tensor:
    """The loss :func:`step_loss` defines, from each video (and each CM-S pair) run alone without padding.

    Why this is the padded batch's loss, term by term: every BCE on video-level probabilities is a mean over
    videos and classes, so it only needs each video's own probabilities; VALOR's segment term is a mean over
    the real (video, second, class) items of the videos with pseudo labels, and MA's contrastive loss a mean
    over the real segments of the batch (each segment's cross-entropy runs over its own video's segments),
    so both are the per-video sums divided by the count of real items. The CM-S term couples videos only
    through the pooled vectors ``f_a``, ``f_v`` (one per row of the doubled batch): each is computed from its
    row alone, a swapped row (audio of i, visual of r[i]) cut to the shorter of the two videos, which is
    where ``doubled_mask`` ends it; then ``cms_loss`` runs unchanged on the stacked vectors.
    """
    s, cfg = spec(name), _config(name)
    alone = [_alone(model, fs, b, n) for b, n in enumerate(LENGTHS)]
    video = MMILOutput(*(torch.cat([getattr(o, f) for o in alone]) for f in VIDEO_FIELDS), None, None)
    y = fs.labels
    if s.jomold:
        return _jomold_reference(model, name, fs, alone, video)
    if s.arch == "leap":
        return _leap_reference(alone, video, fs, s.video_loss)
    if s.pseudo_labels:
        n = sum(float(fs.pseudo_present[b]) * length * 25 for b, length in enumerate(LENGTHS))
        seg = sum(
            fs.pseudo_present[b]
            * F.binary_cross_entropy_with_logits(
                o.frame_logits[0, :, m].float(), pseudo[b, : LENGTHS[b]], reduction="sum"
            )
            for b, o in enumerate(alone)
            for m, pseudo in ((0, fs.pseudo_audio), (1, fs.pseudo_visual))
        )
        return F.binary_cross_entropy(video.global_prob.float().clamp(EPS, 1 - EPS), y) + seg / n
    y_audio, y_visual = (fs.labels_audio, fs.labels_visual) if s.labels == "refined" else (y, y)
    s_a, s_v = cfg.smoothing(EPOCH)
    if s.ma_targets:
        loss = ma_guided_loss(video, y, y_audio, y_visual, s_a, s_v)
    else:
        loss = guided_loss(video, torch.maximum(y_audio, y_visual), y_audio, y_visual, s_a, s_v)
    if s.ma_loss:
        per_video = [n * ma_contrastive_loss(o.x_audio, o.x_visual_in) for o, n in zip(alone, LENGTHS)]
        loss = loss + sum(per_video) / sum(LENGTHS)
    if s.cms:
        r = partners.tolist()
        swapped = [_alone(model, fs, i, min(LENGTHS[i], LENGTHS[j]), visual_of=j) for i, j in enumerate(r)]
        ya2, yv2 = torch.cat([y_audio, y_audio]), torch.cat([y_visual, y_visual[r]])
        rows = alone + swapped
        f_a = torch.cat(
            [label_aware_pool(o.x_audio, o.frame_att_logits[:, :, 0], ya2[k : k + 1]) for k, o in enumerate(rows)]
        )
        f_v = torch.cat(
            [label_aware_pool(o.x_visual, o.frame_att_logits[:, :, 1], yv2[k : k + 1]) for k, o in enumerate(rows)]
        )
        loss = loss + cfg.cms_weight * cms_loss(f_a, f_v, ya2, yv2, cfg.temperature)
    return loss


def _clamp(t: torch.Tensor) -> torch.Tensor:
    return t.clamp(EPS, 1 - EPS)


def _leap_reference(alone, video, fs, video_loss) -> torch.Tensor:
    """LEAP's loss from each video alone: the weak-label BCE a mean over videos; the pseudo-label BCEs means over
    the (video, class) or real (video, second, class) items of the videos with pseudo labels; the similarity
    loss a mean over their pairs of real seconds, each video's target from its own real seconds."""
    present = [b for b in range(len(LENGTHS)) if fs.pseudo_present[b]]
    cut = {b: tuple(x[b : b + 1, : LENGTHS[b]].double() for x in (fs.pseudo_audio, fs.pseudo_visual)) for b in present}
    p = video.audio_prob + video.visual_prob - video.audio_prob * video.visual_prob
    p = p if video_loss == "soft" else video.global_prob
    loss = F.binary_cross_entropy(_clamp(p.float()), fs.labels)  # in fp32: the clamp of a 0 / 1 is fp32's
    for m, prob in ((0, "audio_prob"), (1, "visual_prob")):
        items = sum(
            F.binary_cross_entropy(_clamp(getattr(alone[b], prob)), cut[b][m].amax(1), reduction="sum") for b in present
        )
        loss = loss + items / (len(present) * 25)
        seg = sum(
            F.binary_cross_entropy(_clamp(alone[b].frame_prob[:, :, m]), cut[b][m], reduction="sum") for b in present
        )
        loss = loss + seg / (sum(LENGTHS[b] for b in present) * 25)
    pairs = sum(LENGTHS[b] ** 2 for b in present)
    sim = sum(
        LENGTHS[b] ** 2
        * avss_loss(
            alone[b].x_audio, alone[b].x_visual, *cut[b], torch.ones(1), torch.ones(1, LENGTHS[b], dtype=torch.bool)
        )
        for b in present
    )
    return loss + sim / pairs


def _gradients(model, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def _assert_gradients_close(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for k in want:
        scale = float(want[k].abs().max())
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-5 * scale + 1e-12, msg=k)


@pytest.mark.parametrize("name", _rows(PER_SECOND_ROWS))
def test_a_padded_batch_gives_each_video_its_own_outputs_losses_and_gradients(name):
    """Every row (float64, no dropout): a batch of videos of 9, 3, 6 and 1 seconds padded to 9 gives each video
    the outputs it has alone, zeros at its padding, and the loss and gradients of :func:`_reference_loss`."""
    model = _model(name).double().eval()
    fs = _train_set(len(LENGTHS), T, SHAPES)
    for f in ("audio", "video_s", "video_st"):
        setattr(fs, f, getattr(fs, f).double())
    mask = first_segments(torch.tensor(LENGTHS), T)
    idx = torch.arange(len(LENGTHS))

    out = model(*fs.batch(idx), mask)
    assert torch.equal(out.mask, mask)
    for b, n in enumerate(LENGTHS):
        alone = _alone(model, fs, b, n)
        for f in VIDEO_FIELDS:
            torch.testing.assert_close(getattr(out, f)[b], getattr(alone, f)[0], rtol=1e-9, atol=1e-12, msg=f)
        for f in SEGMENT_FIELDS:
            if getattr(alone, f) is None:
                continue
            torch.testing.assert_close(getattr(out, f)[b, :n], getattr(alone, f)[0], rtol=1e-9, atol=1e-12, msg=f)
            assert not getattr(out, f)[b, n:].any(), f"{f} is not 0 at the padding"

    partners = batch_partners(name, len(LENGTHS), torch.Generator().manual_seed(1))
    loss = step_loss(model, name, fs, idx, EPOCH, _config(name), partners, mask, POSITION)
    want = _reference_loss(model, name, fs, partners)
    torch.testing.assert_close(loss.double(), want.double(), rtol=1e-6, atol=1e-7)
    _assert_gradients_close(_gradients(model, loss), _gradients(model, want))


@pytest.mark.parametrize("name", _rows(MODELS))
def test_no_mask_and_an_all_true_mask_are_the_same_computation(name):
    """Ten-second videos, training mode (dropout on, same seed): an all-True mask gives bit for bit the outputs,
    loss and gradients of no mask, which is the unpadded code the official-equality tests check."""
    shapes = FEATURE_MAP_SHAPES if name not in PER_SECOND_ROWS else SHAPES
    model = _model(name, shapes)
    fs = _train_set(4, 10, shapes)
    idx, cfg = torch.arange(4), _config(name)
    full = torch.ones(4, 10, dtype=torch.bool)
    results = []
    for mask in (None, full):
        partners = batch_partners(name, 4, torch.Generator().manual_seed(1))
        torch.manual_seed(5)
        out = model(*fs.batch(idx), mask)
        loss = step_loss(model, name, fs, idx, EPOCH, cfg, partners, mask, POSITION)
        results.append((out, loss, _gradients(model, loss)))
    (out, loss, grads), (out_t, loss_t, grads_t) = results
    assert out_t.mask is None
    for f in VIDEO_FIELDS + SEGMENT_FIELDS:
        a, b = getattr(out, f), getattr(out_t, f)
        assert (a is None and b is None) or torch.equal(a, b), f
    assert torch.equal(loss, loss_t)
    assert grads.keys() == grads_t.keys() and all(torch.equal(grads[k], grads_t[k]) for k in grads)


def test_a_cms_swap_lasts_as_long_as_the_shorter_video():
    mask = first_segments(torch.tensor([4, 2, 3]), 4)
    doubled = doubled_mask(mask, torch.tensor([1, 2, 0]))
    assert doubled.sum(dim=1).tolist() == [4, 2, 3, 2, 2, 3]


def test_label_aware_pooling_weighs_real_segments_only():
    """The pooled vector itself (CM-S's loss normalises it, so only its direction reaches the loss)."""
    g = torch.Generator().manual_seed(0)
    x, logits, y = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 3, generator=g), torch.ones(2, 3)
    x[1, 2:] = 0.0  # the padding of a model's outputs
    pooled = label_aware_pool(x, logits, y, first_segments(torch.tensor([5, 2]), 5))
    torch.testing.assert_close(pooled[1], label_aware_pool(x[1:, :2], logits[1:, :2], y[1:])[0])
    torch.testing.assert_close(pooled[0], label_aware_pool(x[:1], logits[:1], y[:1])[0])


def test_ma_contrastive_loss_of_one_second_videos_is_zero():
    """A one-second video has no other segment to tell apart: its term is 0 (not a division by zero)."""
    x = torch.randn(2, 1, 8)
    assert ma_contrastive_loss(x, torch.randn(2, 1, 8)).item() == 0.0


def test_a_bidirectional_lstm_reads_each_video_backwards_from_its_last_real_segment():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 3, batch_first=True, bidirectional=True).double()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    out, _ = run_lstm(lstm, x, first_segments(torch.tensor([5, 2]), 5))
    torch.testing.assert_close(out[1, :2], lstm(x[1:, :2])[0][0])
    assert not out[1, 2:].any()


@pytest.mark.parametrize(
    ("mask", "problem"),
    [
        (torch.ones(2, 9, dtype=torch.bool), r"expected \(2, 10\) bool"),
        (torch.ones(2, 10), r"expected \(2, 10\) bool"),
        (first_segments(torch.tensor([10, 0]), 10), "a video without any real segment"),
        (torch.tensor([[True] * 10, [False] + [True] * 9]), "real segments must come first"),
    ],
)
def test_a_bad_mask_is_refused_naming_the_problem(mask, problem):
    model = _model("han")
    fs = random_feature_set(2, shapes=SHAPES)
    with pytest.raises(ValueError, match=problem):
        model(*fs.batch(torch.arange(2)), mask)
    assert checked_mask(None, 2, 10) is None


def test_a_model_on_a_whole_clip_audio_feature_map_refuses_padding():
    model = _model("valor++", FEATURE_MAP_SHAPES)
    fs = random_feature_set(2, shapes=FEATURE_MAP_SHAPES)
    with pytest.raises(ValueError, match="64-row audio feature map"):
        model(*fs.batch(torch.arange(2)), first_segments(torch.tensor([10, 4]), 10))


def test_input_statistics_come_from_real_segments_only():
    model = Standardized(_model("han"))
    fs = _train_set(2, 4, SHAPES)
    mask = first_segments(torch.tensor([4, 2]), 4)
    model.fit(fs.audio, fs.video_s, fs.video_st, mask=mask)
    real_frames = torch.cat([fs.video_s[0], fs.video_s[1, :16]])  # 8 frames per second
    torch.testing.assert_close(model.video_s_mean, real_frames.mean(0))
    torch.testing.assert_close(model.audio_std, torch.cat([fs.audio[0], fs.audio[1, :2]]).std(0))
