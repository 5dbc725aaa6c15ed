"""extract: feature extraction, videos/s per stage and end to end. The baseline is the reference style
(ffmpeg JPEGs, PIL, fp32, one video per forward)."""

from __future__ import annotations

import time

import numpy as np

from .common import add_json_flag, add_videos_dir_flags, print_figures, print_machine, video_paths, write_json


def add_arguments(p) -> None:
    add_videos_dir_flags(p)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", default="random", choices=["random", "pretrained"])
    p.add_argument("--weights-dir")
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument("--resnet-resize", type=int, default=256)
    p.add_argument("--resnet-crop", type=int, default=224)
    p.add_argument("--r2plus1d-size", type=int, default=112)
    p.add_argument("--batch-videos", type=int, default=8)
    p.add_argument("--no-reference", action="store_true", help="skip the reference-style baseline")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument(
        "--stage-n",
        type=int,
        default=16,
        help="clips for the per-stage figures and the reference style (end to end uses all --n)",
    )
    add_json_flag(p)


def _reference_visual(path: str, workdir: str, resnet, r21d, cfg) -> None:
    """Reference-style visual extraction of one video: ffmpeg -r 8 JPEGs, PIL, one fp32 forward per model."""
    import glob
    import os
    import subprocess

    import torch
    from PIL import Image
    from torchvision import transforms

    from ..features.visual import IMAGENET_MEAN, IMAGENET_STD, KINETICS_MEAN, KINETICS_STD
    from ..media.ffmpeg_bin import ffmpeg_exe

    out = os.path.join(workdir, "frames")
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, "*.jpg")):
        os.unlink(f)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", path, "-r", str(cfg.fps), os.path.join(out, "%06d.jpg")], check=True
    )
    files = sorted(glob.glob(os.path.join(out, "*.jpg")))
    pick = np.round(np.linspace(0, len(files) - 1, cfg.num_frames)).astype(int)
    images = [Image.open(files[i]).convert("RGB") for i in pick]
    t2d = transforms.Compose(
        [
            transforms.Resize(cfg.resnet_resize),
            transforms.CenterCrop(cfg.resnet_crop),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    t3d = transforms.Compose(
        [
            transforms.Resize((cfg.r2plus1d_size, cfg.r2plus1d_size)),
            transforms.ToTensor(),
            transforms.Normalize(KINETICS_MEAN, KINETICS_STD),
        ]
    )
    device = next(resnet.parameters()).device
    with torch.inference_mode():
        resnet(torch.stack([t2d(im) for im in images]).to(device))
        clips = torch.stack([t3d(im) for im in images]).view(-1, 8, 3, cfg.r2plus1d_size, cfg.r2plus1d_size)
        r21d(clips.permute(0, 2, 1, 3, 4).to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()


class _GpuUtilisation:
    """Mean GPU utilisation (%) while it runs: ``torch.cuda.utilization`` (needs pynvml) or ``nvidia-smi``,
    sampled every 0.2 s in a thread."""

    def __init__(self, device):
        import threading

        self.device, self.samples, self.source = device, [], None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        import subprocess

        import torch

        if self.source in (None, "torch.cuda.utilization"):
            try:
                value = float(torch.cuda.utilization(self.device))
                self.source = "torch.cuda.utilization"
                return value
            except Exception:
                self.source = "nvidia-smi"
        index = self.device.index if self.device.index is not None else 0
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", str(index)],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return float(out.stdout.strip().splitlines()[0])

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self._sample())
            except Exception:
                self.source = "unavailable"
                return
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples)) if self.samples else float("nan")


def _timed_shard(extractor, paths: list[str], outputs: dict, pool, device) -> tuple[float, object, object]:
    """Seconds for one shard with an extractor built and decoders started beforehand; stage times; GPU use."""
    import contextlib

    from ..features.runner import extract_shard
    from ..features.stage_times import StageTimes

    times = StageTimes()
    gpu = _GpuUtilisation(device) if device.type == "cuda" else contextlib.nullcontext()
    with gpu:
        times.start = t0 = time.perf_counter()
        extract_shard(
            extractor,
            paths,
            outputs,
            outputs[extractor.shards[0]] + ".failures.tsv",
            {},
            progress=False,
            times=times,
            pool=pool,
        )
        dt = time.perf_counter() - t0
    return dt, times, gpu


def _stage_report(res: dict, label: str, n: int, dt: float, times, gpu) -> None:
    res[f"{label}: videos/s end to end (models built, decoders started before)"] = n / dt
    res[f"{label}: videos/s steady (after the first batch)"] = times.steady_rate()
    for stage, sec in sorted(times.seconds.items(), key=lambda kv: -kv[1]):
        res[f"{label}: {stage}, s"] = sec
    if gpu is not None and hasattr(gpu, "mean"):
        res[f"{label}: GPU utilisation, mean % ({gpu.source})"] = gpu.mean


def bench_extract(
    paths: list[str], cfg_dict: dict, threads: int, reference: bool = True, stage_n: int = 16, device: str = "auto"
) -> dict:
    """Videos/s end to end over ``paths``: the pipeline (frames through shared memory, batches overlapped on
    CUDA) and, in the same run, the sequential path (frames through the pool's pipe, each stage after the
    other), each with seconds per stage (CUDA events on a GPU, perf_counter on the CPU) and its steady
    rate; models are built and decoder processes started outside the timed window. Also: 1-process decode
    and each model alone over the first ``stage_n`` clips, the audio shard, and the reference style."""
    import tempfile

    import torch

    from ..features import store, visual
    from ..features.audio_extractor import AudioExtractor
    from ..features.config import ExtractConfig
    from ..features.runner import decoders
    from ..features.visual_extractor import VisualExtractor
    from ..features.weights import resolve
    from ..media.decode import sample_frames

    torch.set_num_threads(threads)
    cfg = ExtractConfig.from_dict(
        {**cfg_dict, "device": device, "decode_workers": max(1, threads - 1) if threads > 1 else 0}
    )
    dev = cfg.torch_device()
    n = len(paths)
    res: dict = {
        "videos": n,
        "device": str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        "decoder processes": cfg.decode_workers,
    }
    few = paths[:stage_n]
    t0 = time.perf_counter()
    frames = [sample_frames(p, cfg.fps, cfg.num_frames) for p in few]
    res["decode, 1 process, videos/s"] = len(few) / (time.perf_counter() - t0)
    resnet = visual.build_resnet152(resolve("resnet152", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed))
    r21d = visual.build_r2plus1d_18(resolve("r2plus1d_18", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed))
    resnet_cl = resnet.to(dev, memory_format=torch.channels_last)
    r21d = r21d.to(dev)
    with torch.inference_mode():
        x2d = torch.cat(
            [visual.preprocess_2d(torch.from_numpy(f).to(dev), cfg.resnet_resize, cfg.resnet_crop) for f in frames]
        ).contiguous(memory_format=torch.channels_last)
        x3d = torch.cat([visual.preprocess_3d(torch.from_numpy(f).to(dev), cfg.r2plus1d_size) for f in frames])
        for name, model, x in (("ResNet-152", resnet_cl, x2d), ("R(2+1)D-18", r21d, x3d)):
            step = max(1, x.shape[0] // len(few) * cfg.batch_videos)
            with visual.autocast(dev, cfg.precision):
                model(x[:step])  # warm-up: cuDNN algorithm choice and allocator growth are not throughput
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                for i in range(0, x.shape[0], step):
                    model(x[i : i + step])
            if dev.type == "cuda":
                torch.cuda.synchronize()
            res[f"{name} model alone, {cfg.precision}, {cfg.batch_videos} videos/batch, videos/s"] = len(few) / (
                time.perf_counter() - t0
            )
    del x2d, x3d
    with tempfile.TemporaryDirectory() as tmp:
        feats = {}
        for label, over in (
            ("pipeline (shared memory, overlapped)", {}),
            ("sequential (pipe, one stage after the other)", {"transport": "pipe", "overlap": False}),
        ):
            c = ExtractConfig.from_dict({**cfg.__dict__, **over})
            ext = VisualExtractor(c)
            ext([frames[0]])  # warm-up outside the timed window
            outs = {name: f"{tmp}/{name}-{len(feats)}.h5" for name in ext.shards}
            with decoders(c, True, warm=True) as pool:
                dt, times, gpu = _timed_shard(ext, paths, outs, pool, dev)
            _stage_report(res, f"visual, {label}", n, dt, times, gpu if dev.type == "cuda" else None)
            feats[label] = {name: store.read_shard(path)[1] for name, path in outs.items()}
            del ext
        a, b = feats.values()
        res["visual: max |difference| of the features, pipeline vs sequential"] = max(
            float(np.abs(a[k] - b[k]).max()) if a[k].size else 0.0 for k in a
        )
        res["visual: speed-up of the pipeline over the sequential path"] = (
            res[
                "visual, pipeline (shared memory, overlapped): videos/s end to end (models built, decoders started "
                "before)"
            ]
            / res[
                "visual, sequential (pipe, one stage after the other): videos/s end to end (models "
                "built, decoders started before)"
            ]
        )
        aud = AudioExtractor(cfg)
        with decoders(cfg, False, warm=True) as pool:
            dt, times, gpu = _timed_shard(aud, paths, {"vggish": f"{tmp}/vggish.h5"}, pool, dev)
        _stage_report(res, "audio", n, dt, times, gpu if dev.type == "cuda" else None)
        if reference:
            resnet32 = resnet.to(memory_format=torch.contiguous_format).float()
            t0 = time.perf_counter()
            for p in few:
                _reference_visual(p, tmp, resnet32, r21d, cfg)
            t_ref = time.perf_counter() - t0
            res["reference style, visual (JPEG + PIL + fp32, 1 video/forward), videos/s"] = len(few) / t_ref
            res["speed-up of the pipeline's visual shard over the reference style"] = res[
                "visual, pipeline (shared memory, overlapped): videos/s end to end (models built, decoders "
                "started before)"
            ] / (len(few) / t_ref)
    return res


def main(args) -> int:
    print_machine()
    paths = video_paths(args.videos_dir, args.n, "extract")
    cfg = {
        "weights": args.weights,
        "precision": args.precision,
        "resnet_resize": args.resnet_resize,
        "resnet_crop": args.resnet_crop,
        "r2plus1d_size": args.r2plus1d_size,
        "batch_videos": args.batch_videos,
        "weights_dir": args.weights_dir,
    }
    print(f"config: {cfg}, threads {args.threads}")
    r = bench_extract(
        paths, cfg, args.threads, reference=not args.no_reference, stage_n=args.stage_n, device=args.device
    )
    print_figures(r)
    write_json(args.json, r)
    return 0
