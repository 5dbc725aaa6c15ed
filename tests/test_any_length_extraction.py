"""Extraction of whole videos of any length (``any_length``): each video's segments from its duration,
the shards storing the lengths; fixed 10-s extraction (LLP) unchanged."""

import numpy as np
import pytest

from avvp_pipeline.features import store
from avvp_pipeline.features.audio_extractor import AudioExtractor
from avvp_pipeline.features.config import ExtractConfig
from avvp_pipeline.features.runner import extract_shard
from avvp_pipeline.features.visual_extractor import VisualExtractor
from avvp_pipeline.media.probe import MediaError, MediaInfo, video_segments

SMALL = {
    "weights": "random",
    "precision": "fp32",
    "resnet_resize": 32,
    "resnet_crop": 32,
    "r2plus1d_size": 16,
    "decode_workers": 0,
    "batch_videos": 4,
    "device": "cpu",
}


def _info(duration: float) -> MediaInfo:
    return MediaInfo(64, 48, 0, 1, 16000, duration)


@pytest.mark.parametrize(("duration", "segments"), [(10.0, 10), (10.03, 10), (9.98, 10), (12.3, 13), (0.4, 1)])
def test_every_begun_second_is_a_segment_but_a_container_rounding(duration, segments):
    assert video_segments("v.mp4", _info(duration)) == segments


def test_a_video_without_a_stated_duration_has_no_length():
    with pytest.raises(MediaError, match=r"v\.mp4: the container states no duration"):
        video_segments("v.mp4", _info(0.0))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three rendered clips of 3, 5 and 3 s (paths in that order)."""
    from avvp_pipeline.data.synth.clip_file import write_clip
    from avvp_pipeline.data.synth.clip_plan import plan
    from avvp_pipeline.data.synth.spec import SynthSpec

    root = tmp_path_factory.mktemp("any_length")
    sizes = {"n_train": 12, "n_val": 0, "n_test": 0, "width": 32, "height": 32, "fps": 8.0}
    spec = SynthSpec(seed=1, duration=(3, 5), min_event=1, max_event=3, **sizes)
    by_length = {}
    for clip in plan(spec):
        by_length.setdefault(clip.duration, []).append(clip)
    paths = []
    for clip in (by_length[3][0], by_length[5][0], by_length[3][1]):
        write_clip(spec, clip, root / f"{clip.video_id}.mp4")
        paths.append(str(root / f"{clip.video_id}.mp4"))
    return paths


@pytest.mark.slow
def test_whole_videos_give_shards_of_their_own_lengths(clips, tmp_path):
    cfg = ExtractConfig.from_dict({**SMALL, "any_length": True})
    outs = {"resnet152": tmp_path / "r.h5", "r2plus1d_18": tmp_path / "s.h5", "vggish": tmp_path / "v.h5"}
    for ext in (VisualExtractor(cfg), AudioExtractor(cfg)):
        shard_outs = {name: str(outs[name]) for name in ext.shards}
        assert extract_shard(ext, clips, shard_outs, str(tmp_path / "f.tsv"), {}, progress=False) == []
    for name, rows in (("resnet152", 8), ("r2plus1d_18", 1), ("vggish", 1)):
        shard = store.read_full_shard(outs[name])
        assert shard.extra["lengths"].tolist() == [3, 5, 3]
        assert shard.features.shape[1] == 5 * rows
        assert shard.rows.tolist() == [3 * rows, 5 * rows, 3 * rows]
        assert not shard.features[0, 3 * rows :].any() and shard.features[0, : 3 * rows].any()
    # a video's features do not depend on the other videos of its batch
    alone = {"vggish": tmp_path / "alone.h5"}
    extract_shard(AudioExtractor(cfg), clips[:1], {"vggish": str(alone["vggish"])}, str(tmp_path / "g.tsv"), {})
    np.testing.assert_allclose(
        store.read_shard(alone["vggish"])[1][0], store.read_shard(outs["vggish"])[1][0, :3], rtol=1e-5, atol=1e-6
    )
