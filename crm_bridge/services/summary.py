"""A short extractive summary of what a customer wants, for the agent who takes over.

No model and no external service: the customer's own sentences are split (Chinese and
English punctuation), scored by how many of the conversation's frequent content words they
hold (jieba words for Chinese, lower-cased words for English; stop words and one-character
tokens ignored), and the best ones are kept in their original order within a length budget.
Button payloads ("/affirm") and very short turns ("yes", "好的") carry no content.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import jieba

from crm_bridge.core.text import HAN, substantive

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d{3,}|[A-Z]{2}\d+")
STOP_WORDS = frozenset(
    """
    的 了 是 我 你 他 她 它 们 在 有 和 就 不 也 都 吗 呢 吧 啊 呀 哦 嗯 这 那 个 一个 什么 怎么
    还 要 想 请 帮 能 会 可以 没有 已经 一下 一直 我们 你们 现在 为什么 因为 所以 但是 如果
    the a an and or but if of to in on at for with is are was were be been am it this that
    my me i you your we our they them he she his her do does did have has had not no can
    could would should will just please hi hello thanks thank there what why how when where
    """.split()
)


def _sentences(text: str) -> list[str]:
    parts = (p.strip() for p in _SENTENCE_END.split(text))
    return [p for p in parts if p]


def _terms(sentence: str) -> list[str]:
    if HAN.search(sentence):
        words = [w.strip().lower() for w in jieba.lcut(sentence)]
    else:
        words = [w.lower() for w in _WORD.findall(sentence)]
    return [w for w in words if len(w) > 1 and w not in STOP_WORDS and not w.isspace()]


def summarize(customer_texts: Sequence[str], max_chars: int = 240, max_sentences: int = 3) -> str:
    """The customer's most telling sentences, in order, within ``max_chars``."""
    sentences = [s for text in customer_texts if substantive(text) for s in _sentences(text)]
    if not sentences:
        return ""
    counts = Counter(term for s in sentences for term in set(_terms(s)))
    scored = []
    for index, sentence in enumerate(sentences):
        terms = set(_terms(sentence))
        # Shared terms weigh more than one-offs; a slight bonus for later (fresher) turns.
        score = sum(counts[t] for t in terms) / (1 + len(terms)) ** 0.5
        scored.append((score + 0.01 * index, index, sentence))
    chosen: list[tuple[int, str]] = []
    used = 0
    for _score, index, sentence in sorted(scored, reverse=True):
        if len(chosen) == max_sentences:
            break
        if used + len(sentence) > max_chars and chosen:
            continue
        chosen.append((index, sentence[:max_chars]))
        used += len(sentence)
    joiner = "" if HAN.search(chosen[0][1]) else " "
    return joiner.join(sentence for _index, sentence in sorted(chosen))
