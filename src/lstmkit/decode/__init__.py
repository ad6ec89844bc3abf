"""Turning a trained :class:`~lstmkit.models.seq2seq.Seq2Seq` into output sentences: greedy,
beam search and sampling, each returning one list of :class:`Hypothesis` per call."""

from lstmkit.decode.beam import beam_search
from lstmkit.decode.greedy import Hypothesis, greedy
from lstmkit.decode.sample import sample

__all__ = ["Hypothesis", "beam_search", "greedy", "sample"]
