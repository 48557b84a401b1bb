"""The Rasa model is retrained only when what it is trained from changes."""

from __future__ import annotations

import shutil

import pytest

from devtools.config import ROOT
from devtools.model import training_hash


@pytest.fixture
def bot_copy(tmp_path):
    target = tmp_path / "bot"
    shutil.copytree(ROOT / "bot", target, ignore=shutil.ignore_patterns("__pycache__", ".rasa"))
    return target


@pytest.mark.parametrize(
    "changed",
    ["data/nlu/smalltalk.yml", "domain/smalltalk.yml", "config.yml", "components/language.py"],
)
def test_training_inputs_change_the_hash(bot_copy, changed):
    before = training_hash(bot_copy)
    with open(bot_copy / changed, "a") as handle:
        handle.write("\n# changed\n")
    assert training_hash(bot_copy) != before


@pytest.mark.parametrize("changed", ["endpoints.yml", "credentials.yml", "actions/__init__.py"])
def test_runtime_files_do_not_change_the_hash(bot_copy, changed):
    before = training_hash(bot_copy)
    with open(bot_copy / changed, "a") as handle:
        handle.write("\n# changed\n")
    assert training_hash(bot_copy) == before


def test_new_data_file_changes_the_hash(bot_copy):
    before = training_hash(bot_copy)
    (bot_copy / "data" / "nlu" / "extra.yml").write_text('version: "3.1"\n')
    assert training_hash(bot_copy) != before
