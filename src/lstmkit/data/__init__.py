"""Text data: read and split corpora, built-in ones, and TBPTT batches for language models."""

from lstmkit.data.builtin import BUILTIN, builtin_corpus
from lstmkit.data.keywords import (
    CUISINES,
    DISTANCE_BUCKETS,
    NOTES_EXAMPLE,
    VOCAB,
    Answer,
    BucketScore,
    Passage,
    cuisine_accuracy_by_distance,
    generate_passages,
    keywords_corpus,
    parse_passage,
)
from lstmkit.data.sources import Corpus, load_corpus, read_eval_text
from lstmkit.data.text import (
    batchify,
    bptt_batches,
    num_windows,
    read_corpus,
    read_text,
    split_text,
)

__all__ = [
    "BUILTIN",
    "CUISINES",
    "DISTANCE_BUCKETS",
    "NOTES_EXAMPLE",
    "VOCAB",
    "Answer",
    "BucketScore",
    "Corpus",
    "Passage",
    "batchify",
    "bptt_batches",
    "builtin_corpus",
    "cuisine_accuracy_by_distance",
    "generate_passages",
    "keywords_corpus",
    "load_corpus",
    "num_windows",
    "parse_passage",
    "read_corpus",
    "read_eval_text",
    "read_text",
    "split_text",
]
