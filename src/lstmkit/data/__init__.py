"""Data: text corpora, sentence pairs and time series — read, split and built in; TBPTT batches
for language models."""

from lstmkit.data.builtin import BUILTIN, builtin_corpus
from lstmkit.data.calendar import calendar_feature_names, calendar_features, season_length
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
from lstmkit.data.series import Series, SeriesFrame, read_series
from lstmkit.data.series_builtin import BUILTIN_SERIES, builtin_series, load_series
from lstmkit.data.series_split import Split, rolling_origins, split_series
from lstmkit.data.sources import Corpus, eval_source, load_corpus, read_eval_text
from lstmkit.data.text import (
    Ids,
    Text,
    batchify,
    bptt_batches,
    num_windows,
    read_corpus,
    read_text,
    split_counts,
    split_text,
)
from lstmkit.data.text_files import TextSource, scan_text
from lstmkit.data.token_ids import ids_dtype, write_ids

__all__ = [
    "BUILTIN",
    "BUILTIN_SERIES",
    "CUISINES",
    "DISTANCE_BUCKETS",
    "NOTES_EXAMPLE",
    "NUMBERS_SIZES",
    "NUMBER_TASKS",
    "VOCAB",
    "Answer",
    "BucketScore",
    "Corpus",
    "Ids",
    "PairCorpus",
    "Pairs",
    "Passage",
    "Series",
    "SeriesFrame",
    "Split",
    "Text",
    "TextSource",
    "batchify",
    "bptt_batches",
    "builtin_corpus",
    "builtin_series",
    "calendar_feature_names",
    "calendar_features",
    "cuisine_accuracy_by_distance",
    "eval_source",
    "filter_by_length",
    "generate_passages",
    "ids_dtype",
    "keywords_corpus",
    "load_corpus",
    "load_pairs",
    "load_series",
    "num_windows",
    "number_words",
    "numbers_corpus",
    "parse_passage",
    "read_corpus",
    "read_eval_text",
    "read_parallel",
    "read_series",
    "read_text",
    "read_tsv",
    "rolling_origins",
    "sample_numbers",
    "scan_text",
    "season_length",
    "split_counts",
    "split_pairs",
    "split_series",
    "split_text",
    "write_ids",
]
