from __future__ import annotations

import json
import re

from crm_bridge.sentiment import NEUTRAL_BAND, SentimentScorer
from crm_bridge.sentiment.cli import main

SUMMARY = re.compile(r"^accuracy=\d\.\d{4} macro_f1=\d\.\d{4}$")


def _eval(capsys, model_dir, path):
    status = main(["--model-dir", str(model_dir), "eval", str(path)])
    return status, capsys.readouterr()


def test_eval_prints_summary_last(capsys, small_model_dir, write_csv):
    path = write_csv(
        "text,label\n"
        "我要投诉，你们太差劲了,negative\n"
        "thanks that solved it,positive\n"
        "where is my parcel?,neutral\n"
        "great service,positive\n"
    )
    status, out = _eval(capsys, small_model_dir, path)
    assert status == 0
    last = out.out.strip().splitlines()[-1]
    assert SUMMARY.match(last), last
    assert "three-way labels" in out.out


def test_eval_binary_labels_use_the_sign_of_the_score(capsys, small_model_dir, write_csv):
    path = write_csv("text,label\n好吃，送得快,1\n难吃，送得慢,0\n")
    status, out = _eval(capsys, small_model_dir, path)
    assert status == 0
    assert "binary" in out.out
    assert out.out.strip().splitlines()[-1] == "accuracy=1.0000 macro_f1=1.0000"


def test_eval_on_held_out_split(capsys, small_model_dir):
    status, out = _eval(capsys, small_model_dir, small_model_dir / "splits" / "zh_test.csv")
    assert status == 0
    accuracy = float(out.out.strip().splitlines()[-1].split()[0].split("=")[1])
    assert accuracy > 0.85  # 2,000 training rows; the full model reaches about 0.93


def test_eval_bad_csv_reports_file_and_problem(capsys, small_model_dir, write_csv):
    path = write_csv("message,sentiment\nhello,1\n", name="bad.csv")
    status, out = _eval(capsys, small_model_dir, path)
    assert status == 2
    assert str(path) in out.err
    assert "missing column(s) text, label" in out.err
    assert out.out == ""


def test_train_command_writes_manifest_and_falls_back_to_binary_zh(capsys, tmp_path, data_dir):
    model_dir = tmp_path / "model"
    status = main(
        [
            "--model-dir",
            str(model_dir),
            "--data-dir",
            str(data_dir),
            "train",
            "--no-embeddings",
            "--max-rows",
            "200",
            "--neutral-dir",
            str(tmp_path / "absent"),
        ]
    )
    assert status == 0
    assert str(model_dir) in capsys.readouterr().out
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["use_embeddings"] is False
    assert manifest["languages"]["zh"] == {
        "rows": 200,
        "labels": ["negative", "positive"],
        "seconds": manifest["languages"]["zh"]["seconds"],
    }
    assert manifest["languages"]["en"]["labels"] == ["negative", "neutral", "positive"]
    assert (model_dir / "splits" / "en_test.csv").is_file()
    assert not (model_dir / "splits" / "zh_neutral_test.csv").exists()
    result = SentimentScorer.load(model_dir).score("一般般")
    assert result.language == "zh"
    assert (result.label == "neutral") == (abs(result.score) < NEUTRAL_BAND)
