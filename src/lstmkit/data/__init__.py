"""Data: text corpora and sentence pairs, read, split and built in; TBPTT batches for language
models."""

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
from lstmkit.data.numbers import (
    NUMBER_TASKS,
    NUMBERS_SIZES,
    number_words,
    numbers_corpus,
    sample_numbers,
)
from lstmkit.data.pair_sources import PairCorpus, load_pairs
from lstmkit.data.pairs import (
    Pairs,
    filter_by_length,
    read_parallel,
    read_tsv,
    split_pairs,
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
    "NUMBERS_SIZES",
    "NUMBER_TASKS",
    "VOCAB",
    "Answer",
    "BucketScore",
    "Corpus",
    "PairCorpus",
    "Pairs",
    "Passage",
    "batchify",
    "bptt_batches",
    "builtin_corpus",
    "cuisine_accuracy_by_distance",
    "filter_by_length",
    "generate_passages",
    "keywords_corpus",
    "load_corpus",
    "load_pairs",
    "num_windows",
    "number_words",
    "numbers_corpus",
    "parse_passage",
    "read_corpus",
    "read_eval_text",
    "read_parallel",
    "read_text",
    "read_tsv",
    "sample_numbers",
    "split_pairs",
    "split_text",
]
