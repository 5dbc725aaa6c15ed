"""Synthetic LLP-like demo data: real mp4 clips with planted audio and visual events.

``avvp synth`` uses this package to write a small data set in the exact layout of LLP (Look, Listen and
Parse): one ``<11-char id>.mp4`` per clip (H.264 yuv420p video, AAC audio, exactly the clip's length) and
the tab-separated annotation files ``AVVP_train.csv``, ``AVVP_val_pd.csv``, ``AVVP_test_pd.csv``,
``AVVP_dataset_full.csv`` (weak, video-level labels), ``AVVP_eval_audio.csv`` and
``AVVP_eval_visual.csv`` (dense per-second labels, val and test only), plus ``synth_spec.json``.

The modules, in the order a clip is made:

* ``spec``: :class:`~avvp_pipeline.data.synth.spec.SynthSpec`, the parameters and their checks;
* ``streams``: the random streams derived from the seed;
* ``signatures``: how each class looks and sounds;
* ``clip_plan``: the clip names and which events each clip holds, where;
* ``frames`` and ``audio``: the pixels and samples of a planned clip;
* ``clip_file``: one clip encoded to mp4;
* ``annotations``: the LLP CSVs (through :mod:`avvp_pipeline.data.llp`) and ``synth_spec.json``;
* ``generator``: every clip, in parallel, then the annotations.

Everything (names, plan, pixels, samples) is a function of the spec; the mp4 bytes may differ
between ffmpeg versions.
"""
