"""Turning a trained network's outputs into sequences: for :class:`~lstmkit.models.seq2seq.Seq2Seq`
greedy, beam search and sampling, each returning one list of :class:`Hypothesis` per call; for
CTC (the speech recogniser) best path and prefix beam search (:mod:`lstmkit.decode.ctc`), with an
optional word n-gram model (:mod:`lstmkit.decode.ngram`)."""

from lstmkit.decode.beam import beam_search
from lstmkit.decode.ctc import CTCHypothesis, ctc_greedy, ctc_prefix_beam_search
from lstmkit.decode.greedy import Hypothesis, greedy
from lstmkit.decode.ngram import NGramLM
from lstmkit.decode.sample import sample

__all__ = [
    "CTCHypothesis",
    "Hypothesis",
    "NGramLM",
    "beam_search",
    "ctc_greedy",
    "ctc_prefix_beam_search",
    "greedy",
    "sample",
]
