"""Results tables (Markdown, CSV) with the paper's published figures, and per-class F-scores."""

import csv
import io
import json

import numpy as np
import pytest

from avvp_pipeline.evaluation.metrics import per_class_segment_f
from avvp_pipeline.evaluation.published import PUBLISHED
from avvp_pipeline.evaluation.tables import METRICS, per_class_csv, results_csv, results_markdown
from avvp_pipeline.models.rows import PAPER_ROWS


def _metrics(tmp_path, name, value, per_class=None, **extra):
    f = {k: value for k in METRICS}
    path = tmp_path / f"{name.replace('*', 'star')}{'-' + str(extra['seed']) if 'seed' in extra else ''}.json"
    path.write_text(
        json.dumps(
            {
                "model": name,
                "split": "test",
                "n_videos": 3,
                "f_scores": f,
                **({"per_class_segment_f": per_class} if per_class else {}),
                **extra,
            }
        )
    )
    return path


def test_published_figures_cover_every_paper_row_and_match_method_md():
    assert set(PUBLISHED) == set(PAPER_ROWS) | {"valor", "valor++", "jomold", "leap"}
    assert PUBLISHED["jomold"]["seg_type"] == 60.8 and PUBLISHED["jomold"]["ev_type"] == 54.5
    assert (PUBLISHED["leap"]["seg_type"], PUBLISHED["leap"]["ev_type"]) == (62.5, 57.8)
    assert PUBLISHED["valor"]["seg_type"] == 62.0 and PUBLISHED["valor++"]["ev_event"] == 59.0
    assert PUBLISHED["ma*+ours"]["seg_visual"] == 63.5 and PUBLISHED["ma*+ours"]["ev_event"] == 52.1
    assert PUBLISHED["han"]["seg_audio"] == 60.1 and PUBLISHED["ave"]["ev_av"] == 31.6
    assert PUBLISHED["han_3layers"]["seg_event"] == 54.6 and PUBLISHED["han_3layers"]["ev_event"] is None


def test_markdown_orders_rows_like_the_paper_and_labels_published_lines(tmp_path):
    files = [
        _metrics(tmp_path, "han+ours", 70.0),
        _metrics(tmp_path, "broadcast", 40.0),
        _metrics(tmp_path, "han", 50.0),
    ]
    text = results_markdown(files)
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")][2:]  # after header and rule
    assert [ln.split("|")[1].strip() for ln in lines] == ["broadcast", "han", "*han*", "han+ours", "*han+ours*"]
    assert "| han | ours | 50.0 / 50.0 |" in text
    assert "| *han* | *published (LLP, CM-Co paper)* | 60.1 / 51.3 | 52.9 / 48.9 |" in text
    assert "not produced by this run" in text
    assert "published" not in results_markdown(files, published=False).split("\n\n")[0]


def test_csv_has_one_line_per_row_and_empty_cells_where_unpublished(tmp_path):
    rows = list(csv.DictReader(io.StringIO(results_csv([_metrics(tmp_path, "han_2layers", 33.333)]))))
    assert [(r["method"], r["source"]) for r in rows] == [("han_2layers", "ours"), ("han_2layers", "published")]
    assert rows[0]["seg_audio"] == "33.33" and rows[1]["seg_audio"] == "58.20" and rows[1]["ev_audio"] == ""


def _selection_files(tmp_path):
    return [
        _metrics(tmp_path, "han", 50.0, select_on="val"),
        _metrics(tmp_path, "han+ours", 70.0, select_on="test"),
        _metrics(tmp_path, "ma", 60.0, select_on=None),
        _metrics(tmp_path, "broadcast", 40.0),
    ]


def test_markdown_marks_only_rows_selected_on_test(tmp_path):
    text = results_markdown(_selection_files(tmp_path))
    rows = {
        ln.split("|")[1].strip() + "/" + ln.split("|")[2].strip(): ln for ln in text.splitlines() if ln.startswith("| ")
    }
    assert "| han+ours | ours † | 70.0 / 70.0 |" in text
    assert "| han | ours | 50.0 / 50.0 |" in text and "| ma | ours | 60.0 / 60.0 |" in text
    assert "†" not in rows["*han+ours*/*published (LLP, CM-Co paper)*"] and "†" not in rows["broadcast/ours"]
    assert "\n† selected on test, as published" in text
    val_only = results_markdown(_selection_files(tmp_path)[:1])
    assert "†" not in val_only and "selected on test" not in val_only


def test_csv_records_how_each_row_was_selected(tmp_path):
    text = results_csv(_selection_files(tmp_path))
    assert text.splitlines()[0].startswith("method,source,seg_audio,ev_audio") and text.splitlines()[0].endswith(
        ",selected_on"
    )
    rows = {(r["method"], r["source"]): r["selected_on"] for r in csv.DictReader(io.StringIO(text))}
    assert rows[("han+ours", "ours")] == "test" and rows[("han", "ours")] == "val"
    assert rows[("ma", "ours")] == "last epoch"
    assert rows[("han+ours", "published")] == rows[("broadcast", "ours")] == ""


def test_per_class_segment_f_hand_case():
    gt_a, gt_v = np.zeros((2, 25, 10), dtype=np.uint8), np.zeros((2, 25, 10), dtype=np.uint8)
    pred_a, pred_v = np.zeros_like(gt_a), np.zeros_like(gt_v)
    gt_a[0, 3, :4] = 1  # class 3 heard 0-4 s
    gt_v[0, 3, :2] = 1  # and seen 0-2 s
    gt_v[1, 7, :] = 1  # class 7 seen all along in video 1
    pred_a[0, 3, 2:6] = 1  # 2 right, 2 wrong, 2 missed -> 2*2 / (2*2 + 2 + 2) = 50 %
    pred_v[0, 3, :2] = 1  # exact -> 100 %
    f = per_class_segment_f(pred_a, pred_v, gt_a, gt_v)
    assert f["audio"][3] == pytest.approx(50.0) and f["visual"][3] == pytest.approx(100.0)
    assert f["visual"][7] == 0.0  # present, never predicted
    assert f["av"][3] == 0.0  # av truth 0-2 s, but audio is predicted only from 2 s
    assert np.isnan(f["audio"][7]) and np.isnan(f["audio"][0])  # neither present nor predicted


def test_per_class_csv(tmp_path):
    path = _metrics(tmp_path, "han", 50.0, per_class={"audio": {"Speech": 61.25, "Dog": None}})
    rows = list(csv.reader(io.StringIO(per_class_csv([path]))))
    assert rows == [
        ["model", "modality", "class", "segment_f", "seed"],
        ["han", "audio", "Speech", "61.25", ""],
        ["han", "audio", "Dog", "", ""],
    ]


def test_per_class_csv_has_one_block_per_seed(tmp_path):
    files = [
        _metrics(tmp_path, "han", 50.0, per_class={"audio": {"Speech": v}}, seed=s) for s, v in ((2, 40.0), (1, 60.0))
    ]
    rows = list(csv.reader(io.StringIO(per_class_csv(files))))[1:]
    assert rows == [["han", "audio", "Speech", "60.00", "1"], ["han", "audio", "Speech", "40.00", "2"]]


def _seed_files(tmp_path):
    """han over three seeds (one without an event-level Type@AV), ma* once, the baseline."""
    han = [_metrics(tmp_path, "han", v, seed=s, select_on="val") for s, v in ((3, 52.0), (1, 50.0), (2, 57.0))]
    fs = json.loads(han[0].read_text())
    fs["f_scores"]["ev_type"] = None
    han[0].write_text(json.dumps(fs))
    return [*han, _metrics(tmp_path, "ma*", 44.0, seed=1), _metrics(tmp_path, "broadcast", 40.0)]


def test_summarize_gives_mean_sample_std_and_n_of_defined_values():
    from avvp_pipeline.evaluation.tables import summarize

    mean, std, n = summarize([50.0, 57.0, 52.0])
    assert mean == pytest.approx(53.0) and std == pytest.approx(np.std([50.0, 57.0, 52.0], ddof=1)) and n == 3
    assert summarize([50.0, None, float("nan")]) == (50.0, None, 1)
    assert summarize([None]) == (None, None, 0)


def test_markdown_aggregates_the_seeds_of_a_model_and_leaves_single_runs_as_they_are(tmp_path):
    text = results_markdown(_seed_files(tmp_path))
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")][2:]
    assert [ln.split("|")[1].strip() for ln in lines] == ["broadcast", "han", "*han*", "ma*", "*ma**"]
    std = np.std([50.0, 57.0, 52.0], ddof=1)  # 3.61
    assert f"| han | ours (n=3) | 53.0 ± {std:.1f} / 53.0 ± {std:.1f} |" in text
    assert f"| 53.0 ± {std:.1f} / 53.5 ± {np.std([50.0, 57.0], ddof=1):.1f} (n=2) |" in text  # Type@AV
    assert "| ma* | ours | 44.0 / 44.0 |" in text and "| broadcast | ours | 40.0 / 40.0 |" in text
    assert "| *han* | *published (LLP, CM-Co paper)* | 60.1 / 51.3 |" in text
    assert "\nours (n=K): mean ± sample standard deviation (ddof=1)" in text and "(seeds 1, 2, 3)" in text
    single = results_markdown(_seed_files(tmp_path)[3:])
    assert "±" not in single and "n=" not in single and "ddof" not in single


def test_csv_keeps_one_line_per_seed(tmp_path):
    text = results_csv(_seed_files(tmp_path))
    header = text.splitlines()[0]
    assert header.startswith("method,source,seg_audio,ev_audio") and header.endswith(",seed,selected_on")
    rows = [
        (r["method"], r["source"], r["seed"], r["seg_audio"], r["ev_type"]) for r in csv.DictReader(io.StringIO(text))
    ]
    assert rows[:4] == [
        ("broadcast", "ours", "", "40.00", "40.00"),
        ("han", "ours", "1", "50.00", "50.00"),
        ("han", "ours", "2", "57.00", "57.00"),
        ("han", "ours", "3", "52.00", ""),
    ]
    assert rows[4][:3] == ("han", "published", "") and rows[5][:3] == ("ma*", "ours", "1")
