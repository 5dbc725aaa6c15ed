"""F-scores the CM-Co paper (Lin et al., NeurIPS 2021) publishes for the rows we train, and those the
VALOR paper (Lai et al., NeurIPS 2023) and the JoMoLD paper (Cheng et al., ECCV 2022) publish for their rows
(``SOURCES`` names the paper of each row that is not the CM-Co paper's).

Values are the paper's, test split of LLP, in %, as (segment, event) pairs for Audio, Visual,
Audio-visual, Type@AV and Event@AV (the paper's Tables 1-4). Table 4 reports segment-level
figures only (event-level ``None``). For VALOR only Type@AV and Event@AV are recorded here (the
other columns ``None``); VALOR+ has no published figures recorded. These are NOT our results: tables label
them "published".
The ``ma`` row is MA's own paper's (its evaluation gates by modality); MA* rows are the authors'
re-run of MA with label refinement only.
"""

from __future__ import annotations

_ORDER = ("audio", "visual", "av", "type", "event")


def _row(*pairs: tuple[float | None, float | None]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, (seg, ev) in zip(_ORDER, pairs):
        out[f"seg_{key}"], out[f"ev_{key}"] = seg, ev
    return out


PUBLISHED: dict[str, dict[str, float | None]] = {
    # Table 1
    "ave": _row((47.2, 40.4), (37.1, 34.7), (35.4, 31.6), (39.9, 35.5), (41.6, 36.5)),
    "avsdn": _row((47.8, 34.1), (52.0, 46.3), (37.1, 26.5), (45.7, 35.6), (50.8, 37.7)),
    "avsdn+ours": _row((48.3, 41.2), (52.4, 48.5), (46.9, 40.0), (49.2, 43.2), (53.2, 40.1)),
    "han": _row((60.1, 51.3), (52.9, 48.9), (48.9, 43.0), (54.0, 47.7), (55.4, 48.0)),
    "han+ours": _row((59.2, 51.3), (59.9, 55.5), (53.4, 46.2), (57.5, 51.0), (58.1, 49.7)),
    "ma": _row((60.3, 53.6), (60.0, 56.4), (55.1, 49.0), (58.9, 53.0), (57.9, 50.6)),
    "ma*": _row((59.8, 52.1), (57.5, 54.4), (52.6, 45.8), (56.6, 50.8), (56.6, 49.4)),
    "ma*+ours": _row((60.8, 53.8), (63.5, 58.9), (57.0, 49.5), (60.5, 54.0), (59.5, 52.1)),
    # Table 2
    "han+cms": _row((58.1, 49.6), (58.3, 53.6), (53.2, 46.3), (56.5, 49.8), (55.9, 47.5)),
    "han+cmco": _row((59.7, 51.4), (57.4, 52.4), (51.9, 44.2), (56.3, 49.3), (57.4, 48.5)),
    "ma+cmco": _row((61.1, 53.3), (61.7, 57.3), (56.3, 49.0), (59.7, 53.0), (58.9, 51.2)),
    "ma*+cms": _row((60.4, 53.5), (60.7, 56.5), (55.8, 47.5), (58.9, 52.5), (58.6, 51.0)),
    "ma*+cmco": _row((60.5, 53.6), (61.3, 56.5), (54.9, 46.7), (58.9, 52.3), (59.1, 51.4)),
    # Table 3
    "han+a_only": _row((60.5, 52.3), (49.8, 43.9), (45.6, 38.3), (52.0, 44.8), (55.7, 45.9)),
    "han+v_only": _row((56.1, 44.5), (56.8, 53.2), (49.7, 40.7), (54.2, 46.1), (54.1, 44.6)),
    "han+av": _row((59.5, 50.3), (55.1, 50.5), (48.6, 40.3), (54.4, 47.0), (56.0, 47.4)),
    "ma*+a_only": _row((60.7, 52.7), (53.9, 47.9), (50.1, 42.2), (54.9, 47.6), (57.0, 47.1)),
    "ma*+v_only": _row((46.8, 34.4), (60.8, 57.0), (42.8, 31.1), (50.1, 40.9), (52.6, 40.4)),
    "ma*+av": _row((58.3, 50.4), (59.4, 55.2), (53.9, 46.9), (57.2, 50.8), (56.7, 48.5)),
    # Table 4 (segment level only)
    "han_2layers": _row((58.2, None), (55.4, None), (50.6, None), (54.7, None), (54.9, None)),
    "han_3layers": _row((58.1, None), (55.2, None), (50.3, None), (54.5, None), (54.6, None)),
}

# VALOR (Lai et al., NeurIPS 2023), LLP test: segment Type@AV / Event@AV, event Type@AV / Event@AV
PUBLISHED["valor"] = _row((None, None), (None, None), (None, None), (62.0, 56.7), (61.5, 54.2))
PUBLISHED["valor++"] = _row((None, None), (None, None), (None, None), (66.2, 60.4), (66.8, 59.0))
# LEAP (Zhou et al., ECCV 2024), LLP test, MM-Pyramid + LEAP on VALOR's pseudo labels: only its segment / event
# Type@AV pair is recorded here (its other columns are not; the README of its code gives none)
PUBLISHED["leap"] = _row((None, None), (None, None), (None, None), (62.5, 57.8), (None, None))

# JoMoLD (Cheng et al., ECCV 2022), LLP test, its comparison with the state of the art (the row with the
# contrastive loss, "w/ CL"; the figure static/results.png of the official repository shows the table)
PUBLISHED["jomold"] = _row((61.3, 53.9), (63.8, 59.9), (57.2, 49.6), (60.8, 54.5), (59.9, 52.5))

#: The paper of each published row that is not the CM-Co paper's.
SOURCES: dict[str, str] = {
    "valor": "VALOR paper",
    "valor++": "VALOR paper (CLIP/CLAP features)",
    "jomold": "JoMoLD paper",
    "leap": "LEAP paper",
}
