"""import: importing released .npy features into shards. Against `open().read()` of the same files (one
thread), both warm, alternating, best of `--repeat` rounds."""

from __future__ import annotations

import os
import time

import numpy as np

from .common import print_machine


def add_arguments(p) -> None:
    p.add_argument("--released-dir", metavar="DIR", help="a released-layout folder (vggish/, res152/, r2plus1d_18/)")
    p.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help="first write N ids of random float32 features into DIR (files already there are kept; "
        "N=11849, all of LLP, is about 8.2 GB)",
    )
    p.add_argument("--threads", type=int, default=2, help="reader threads of the import")
    p.add_argument("--shard-size", type=int, default=256, help="videos per imported shard")
    p.add_argument("--repeat", type=int, default=5, help="best of this many rounds each")


def generate_release(folder: str, n: int, seed: int = 0) -> list[str]:
    """Write (or complete) a released-layout folder of ``n`` ids with random float32 features; return the ids.

    Files already there with the right size are kept, so a folder can be reused between runs.
    """
    from ..features.kinds import DEFAULT_KINDS
    from ..features.released import RELEASE_FOLDERS, SHAPES

    ids = [f"bench{i:06d}" for i in range(n)]  # 11 characters, like a YouTube id
    rng = np.random.default_rng(seed)
    for name in DEFAULT_KINDS:  # the HAN release's three folders
        sub = RELEASE_FOLDERS[name]
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        size = 128 + 4 * int(np.prod(SHAPES[name]))  # .npy header (version 1, 128 bytes) + float32 data
        for vid in ids:
            path = os.path.join(folder, sub, f"{vid}.npy")
            if not (os.path.isfile(path) and os.path.getsize(path) == size):
                np.save(path, rng.random(SHAPES[name], dtype=np.float32))
    return ids


def _release_ids(folder: str) -> list[str]:
    from ..features.kinds import DEFAULT_KINDS
    from ..features.released import RELEASE_FOLDERS

    stems = [
        {e.name[:-4] for e in os.scandir(os.path.join(folder, RELEASE_FOLDERS[name])) if e.name.endswith(".npy")}
        for name in DEFAULT_KINDS
    ]
    return sorted(set.intersection(*stems))


def bench_import(folder: str, threads: int = 2, repeat: int = 3, shard_size: int = 256) -> dict:
    """Import throughput of a released-layout folder (shards of ``shard_size``, ``threads`` readers)
    against reading the same files' bytes (``open().read()``, one thread), both warm, in alternating
    order; best of ``repeat`` rounds each. Also timed: reading and hashing (sha256) every file, which the
    import must do at least once (the shard format's own checksum hashes the features a second time)."""
    import hashlib
    import tempfile

    from ..features.kinds import DEFAULT_KINDS
    from ..features.released import RELEASE_FOLDERS, import_shard, release_path

    ids = _release_ids(folder)
    if not ids:
        folders = ", ".join(RELEASE_FOLDERS[name] for name in DEFAULT_KINDS)
        raise ValueError(f"{folder}: no video with all of {folders} (use --generate N)")
    files = [release_path(folder, name, vid) for vid in ids for name in DEFAULT_KINDS]
    total = sum(os.path.getsize(f) for f in files)

    def raw() -> None:
        for f in files:
            with open(f, "rb") as fh:
                fh.read()

    def hashed() -> None:
        for f in files:
            with open(f, "rb") as fh:
                hashlib.sha256(fh.read()).digest()

    def imported(out: str) -> float:
        """Seconds spent importing; each shard is deleted once written (only the import is timed)."""
        spent = 0.0
        for k in range(0, len(ids), shard_size):
            outputs = {name: os.path.join(out, f"{name}.h5") for name in DEFAULT_KINDS}
            t0 = time.perf_counter()
            import_shard(
                ids[k : k + shard_size],
                folder,
                outputs,
                os.path.join(out, "failures.tsv"),
                {"source": "released", "released_dir": folder},
                threads=threads,
                progress=False,
            )
            spent += time.perf_counter() - t0
            for path in outputs.values():
                os.unlink(path)
        return spent

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    raw()  # warm the page cache
    times = {"raw": [], "sha256": [], "import": []}
    with tempfile.TemporaryDirectory() as tmp:
        run = {"raw": lambda: timed(raw), "sha256": lambda: timed(hashed), "import": lambda: imported(tmp)}
        for r in range(repeat):
            for what in list(run) if r % 2 == 0 else list(run)[::-1]:
                times[what].append(run[what]())
    best = {what: min(t) for what, t in times.items()}
    out = {
        "videos": len(ids),
        "files": len(files),
        "MB": total / 1e6,
        "threads": threads,
        "shard_size": shard_size,
        "ratio": best["raw"] / best["import"],
    }
    for what, t in best.items():
        out.update({f"{what}_s": t, f"{what}_MB_s": total / 1e6 / t, f"{what}_videos_s": len(ids) / t})
    return out


def main(args) -> int:
    print_machine()
    if not args.released_dir:
        raise ValueError("bench import needs --released-dir (with --generate N to write one first)")
    if args.generate:
        t0 = time.perf_counter()
        generate_release(args.released_dir, args.generate)
        print(
            f"released-layout folder {args.released_dir}: {args.generate} ids ready in {time.perf_counter() - t0:.0f} s"
        )
    r = bench_import(args.released_dir, args.threads, args.repeat, args.shard_size)
    print(
        f"{r['videos']} videos, {r['files']} files, {r['MB']:.0f} MB; best of {args.repeat} rounds each, warm, "
        "alternating order"
    )
    print(
        f"raw read (open().read(), 1 thread): {r['raw_s']:.2f} s, {r['raw_MB_s']:.0f} MB/s, "
        f"{r['raw_videos_s']:.0f} videos/s"
    )
    print(
        f"read + sha256 (1 thread, for reference): {r['sha256_s']:.2f} s, {r['sha256_MB_s']:.0f} MB/s, "
        f"{r['sha256_videos_s']:.0f} videos/s"
    )
    threads = f"{r['threads']} thread{'s' if r['threads'] != 1 else ''}"
    print(
        f"import ({threads}, shards of {r['shard_size']}): {r['import_s']:.2f} s, {r['import_MB_s']:.0f} MB/s, "
        f"{r['import_videos_s']:.0f} videos/s"
    )
    print(f"import / raw read throughput: {r['ratio']:.2f}")
    return 0
