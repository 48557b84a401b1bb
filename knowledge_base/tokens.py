"""Tokenisation for lexical retrieval: jieba words and character n-grams, English words."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from knowledge_base.normalize import normalize

__all__ = ["Tokenizer", "TokenizerFn", "default_tokenizer"]

TokenizerFn = Callable[[str], list[str]]

_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
_EN_STOP = frozenset(
    "a an the is are was were be been am do does did i me my we our you your it its to of in on "
    "for at by with and or can could would should will shall may might how what when where which "
    "who why this that these those there here please if have has had so as from about".split()
)
_ZH_STOP = frozenset(
    "的 了 吗 呢 吧 啊 呀 么 嘛 我 你 您 他 她 它 我们 你们 是 在 和 与 就 都 也 要 想 请 问 一下 "
    "怎么 怎样 如何 什么 为什么 怎么办 可以 能 能不能 会 有 有没有 吗 这 那 这个 那个 个 一个 "
    "还 又 把 被 给 让 对 从 到 得 地 着 过 啦 哦 嗯".split()
)
_ZH_STOP_CHARS = frozenset("的了吗呢吧啊呀么嘛我你您是在和也要请问这那个哦嗯啦")


@lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202 - jieba has no type hints
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _stem(word: str) -> str:
    """Very light English stemming: plural and common verb endings."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


class Tokenizer:
    """Callable tokenizer; Chinese runs give jieba words plus character n-grams.

    Args:
        ngram: Largest character n-gram taken from Chinese runs (1 disables n-grams > 1).
        chars: Also emit single Chinese characters.
        stopwords: Drop very common function words.
    """

    def __init__(self, ngram: int = 2, chars: bool = True, stopwords: bool = True) -> None:
        self.ngram = ngram
        self.chars = chars
        self.stopwords = stopwords

    def __call__(self, text: str) -> list[str]:
        """Return the tokens of ``text`` (normalised first)."""
        tokens: list[str] = []
        for run in _RUNS.findall(normalize(text)):
            if run[0].isascii():
                if not (self.stopwords and run in _EN_STOP):
                    tokens.append(_stem(run))
                continue
            for word in _jieba().lcut(run):
                if not (self.stopwords and word in _ZH_STOP):
                    tokens.append("w:" + word)
            if self.chars:
                tokens.extend(
                    "c:" + ch for ch in run if not (self.stopwords and ch in _ZH_STOP_CHARS)
                )
            for n in range(2, self.ngram + 1):
                tokens.extend("g:" + run[i : i + n] for i in range(len(run) - n + 1))
        return tokens

    def describe(self) -> str:
        """Return a short identifier of this configuration (stored in the manifest)."""
        return f"jieba+ngram{self.ngram}{'+chars' if self.chars else ''}/v1"


def default_tokenizer() -> Tokenizer:
    """Return the tokenizer used when none is injected."""
    return Tokenizer()
