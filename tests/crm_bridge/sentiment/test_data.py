from __future__ import annotations

import pytest

from crm_bridge.sentiment.data import (
    SentimentDataError,
    default_neutral_dir,
    load_en_tweets,
    load_zh_neutral,
    read_labelled_csv,
    split_en,
    split_held_out_domain,
    split_neutral,
    split_zh,
)


def test_read_labelled_csv_normalises_labels(write_csv):
    path = write_csv("text,label\n好评,1\nbad,0\nok then,Neutral\ngreat,positive\n")
    examples = read_labelled_csv(path)
    assert [ex.label for ex in examples] == ["positive", "negative", "neutral", "positive"]
    assert examples[0].text == "好评"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("words,label\nhello,1\n", "missing column(s) text"),
        ("text,label\nhello,great\n", "line 2: unknown label 'great'"),
        ("text,label\n  ,1\n", "line 2: empty text"),
        ("text,label\n", "no data rows"),
        ("", "missing column(s) text, label"),
    ],
)
def test_read_labelled_csv_errors_name_file_and_problem(write_csv, content, problem):
    path = write_csv(content)
    with pytest.raises(SentimentDataError) as info:
        read_labelled_csv(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_read_labelled_csv_rejects_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(SentimentDataError, match="file not found"):
        read_labelled_csv(tmp_path / "absent.csv")
    path = tmp_path / "gbk.csv"
    path.write_bytes("text,label\n差评,0\n".encode("gbk"))
    with pytest.raises(SentimentDataError, match="not UTF-8"):
        read_labelled_csv(path)


def test_fixed_splits_are_deterministic_and_disjoint(data_dir, zh_reviews):
    zh = zh_reviews
    train, test = split_zh(zh)
    assert len(test) == pytest.approx(0.1 * len(zh), abs=1)
    assert split_zh(zh)[1] == test
    assert {ex.label for ex in zh} == {"negative", "positive"}
    en = load_en_tweets(data_dir)
    en_train, en_test = split_en(en)
    assert len(en_train) + len(en_test) == len(en)
    assert {ex.label for ex in en_test} == {"negative", "neutral", "positive"}


def test_split_held_out_domain(zh_reviews):
    zh = zh_reviews
    train, test = split_held_out_domain(zh, "计算机")
    assert test and all(ex.domain == "计算机" for ex in test)
    assert all(ex.domain != "计算机" for ex in train)
    with pytest.raises(ValueError, match="no examples"):
        split_held_out_domain(zh, "no-such-category")


def test_neutral_questions_are_a_fixed_sample(data_dir):
    neutral = load_zh_neutral(default_neutral_dir(data_dir), limit=500)
    assert len(neutral) == 500
    assert len({ex.text for ex in neutral}) == 500
    assert {ex.label for ex in neutral} == {"neutral"}
    assert load_zh_neutral(default_neutral_dir(data_dir), limit=500) == neutral
    train, test = split_neutral(neutral)
    assert len(test) == 50 and not {ex.text for ex in train} & {ex.text for ex in test}


def test_missing_neutral_corpus_is_a_data_error(tmp_path):
    with pytest.raises(SentimentDataError, match="bq_dev.csv: file not found"):
        load_zh_neutral(tmp_path)
