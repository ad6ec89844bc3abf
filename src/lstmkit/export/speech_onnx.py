"""ONNX export of a speech recogniser: ``speech.onnx``, log-mel features → CTC log-probabilities.

:func:`write_speech` is the ``lstmkit export`` writer of a
:class:`~lstmkit.speech.SpeechRecognizer`. Its one graph, :class:`SpeechGraph`, runs
:meth:`~lstmkit.models.speech.CTCRecognizer.log_probs`: frame stacking, the stacked
bidirectional LSTM as ONNX's own ``LSTM`` op (:mod:`lstmkit.export.lstm_op`, whose
``sequence_lens`` starts each utterance's backward direction at its own last frame, so a batch's
padding never reaches it), the linear layer with the suppress vector, and the log-softmax; batch
and time axes are dynamic. The folder also holds the tokenizer (``tokenizer/``) and, in the
manifest, what the caller computes around the graph: the features (``features``: sample rate,
mel bands, window and hop, the log floor and the per-utterance normalisation; the mel filters
themselves in ``mel_filters.npy``) and the decoding (``special_ids["blank"]``, the seconds per
output frame).

:class:`OnnxSpeechRecognizer` runs such a folder with numpy and onnxruntime: log-probabilities,
greedy CTC ids and transcripts of given features.

Legend: B batch, T feature frames, T' output frames (``ceil(T / stack)``), F feature bands
(n_mels), V output tokens (the blank included), N mel filter inputs (``n_fft // 2 + 1``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.export.graphs import export_copy
from lstmkit.export.onnx import export_graph, read_manifest
from lstmkit.models.speech import CTCRecognizer
from lstmkit.speech.features import (
    CAUSAL_PRIOR_FRAMES,
    CAUSAL_PRIOR_STD,
    FEATURES_VERSION,
    LOG_FLOOR,
    STD_FLOOR,
    mel_filterbank,
)
from lstmkit.tokenizers import load_tokenizer

GRAPH_FILE = "speech.onnx"
FILTERS_FILE = "mel_filters.npy"


class SpeechGraph(nn.Module):
    """The recogniser's network: ``features`` (B, T, F) float32 and ``lengths`` (B,) int64 →
    ``log_probs`` (B, T', V) and ``out_lengths`` (B,) int64, as
    :meth:`~lstmkit.models.speech.CTCRecognizer.log_probs`.

    The features are zero-padded to a multiple of the frame stack first, by an amount the graph
    computes from T: the model's own stacking pads in a Python branch, which a trace would keep
    only for the example's T. Zero frames past every length change nothing (the model zeroes
    each utterance's padding itself).

    Args:
        model: the fitted :class:`~lstmkit.models.speech.CTCRecognizer`; a copy in eval mode
            with its LSTM in ONNX form is kept.

    Example:
        >>> from lstmkit.models.speech import CTCRecognizer, SpeechConfig
        >>> model = CTCRecognizer(SpeechConfig(vocab_size=6, n_mels=4, hidden_size=8)).eval()
        >>> graph = SpeechGraph(model)
        >>> log_probs, out_lengths = graph(torch.randn(2, 10, 4), torch.tensor([10, 7]))
        >>> log_probs.shape, out_lengths.tolist()
        (torch.Size([2, 3, 6]), [3, 2])
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = export_copy(model)
        self.stack, self.n_mels = model.frame_stack, model.config.n_mels

    def train(self, mode: bool = True) -> SpeechGraph:
        # torch.onnx.export restores the mode it found: the graph never leaves eval mode, so that
        # calling it from Python after an export never runs the model's dropout.
        return super().train(False)

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        pad = (-features.shape[1]) % self.stack  # traced from T, not frozen at the example's
        features = F.pad(features, (0, 0, 0, pad))  # (B, T'*stack, F)
        return self.model.log_probs(features, lengths)

    def specs(self) -> tuple[dict, dict]:
        """Input and output names with their dynamic axes."""
        ins = {"features": {0: "B", 1: "T"}, "lengths": {0: "B"}}
        return ins, {"log_probs": {0: "B", 1: "T_out"}, "out_lengths": {0: "B"}}

    def example(self) -> tuple[Tensor, Tensor]:
        """A padded batch of two to trace with (T not a multiple of the stack)."""
        T = 4 * self.stack + 1
        return torch.randn(2, T, self.n_mels), torch.tensor([T, 2 * self.stack])


def write_speech(recognizer, folder: Path, opset: int) -> dict:
    """A speech recogniser's graph ``speech.onnx``, its tokenizer (``tokenizer/``) and mel
    filters (``mel_filters.npy``, (N, F) float32) in ``folder``.

    Args:
        recognizer: a fitted :class:`~lstmkit.speech.SpeechRecognizer`.
        folder: an existing folder to write into.
        opset: the ONNX opset (14 to 20).

    Returns:
        The manifest entries: ``kind`` ``"speech"``, ``graphs``, the model ``config``,
        ``tokenizer``, ``special_ids`` (the CTC ``blank`` and the tokenizer's specials),
        ``features`` (the feature settings, see :func:`feature_settings`) and ``decoding``.

    Raises:
        UserError: naming ``recognizer`` when it is not a fitted speech recogniser, or is a
            Listen-Attend-Spell one (``architecture 'las'``).

    Example:
        >>> entries = write_speech(recognizer, Path("speech-onnx"), 17)  # doctest: +SKIP
        >>> entries["graphs"]["log_probs"]["file"]  # doctest: +SKIP
        'speech.onnx'
    """
    model = getattr(recognizer, "model_", None)
    if getattr(recognizer, "architecture", "ctc") == "las" and model is not None:
        raise UserError("recognizer: ONNX export covers the CTC recogniser, got architecture 'las'")
    if not isinstance(model, CTCRecognizer):
        raise UserError(
            f"recognizer: expected a fitted SpeechRecognizer (call fit or load first), got "
            f"{'an unfitted ' if hasattr(recognizer, 'transcribe') else 'a '}"
            f"{type(recognizer).__name__}"
        )
    tok, fc, config = recognizer.tokenizer_, recognizer.feature_config_, model.config
    (folder / "tokenizer").mkdir()
    for name, data in tok.files().items():
        (folder / "tokenizer" / name).write_bytes(data)
    bank = mel_filterbank(fc.fft_size // 2 + 1, fc.n_mels, fc.sample_rate, fc.f_min, fc.top)
    np.save(folder / FILTERS_FILE, bank.numpy(), allow_pickle=False)  # (N, F)
    graph = SpeechGraph(model)
    return {
        "kind": "speech",
        "graphs": {"log_probs": export_graph(graph, graph.example(), folder / GRAPH_FILE, opset)},
        "config": config.to_dict(),
        "tokenizer": "tokenizer",
        "special_ids": {
            "blank": config.blank_id,
            **{name: getattr(tok, f"{name}_id") for name in ("pad", "unk", "bos", "eos")},
        },
        "features": feature_settings(fc),
        "decoding": {
            "frame_stack": config.stack,
            "frame_seconds": fc.hop_ms / 1000 * config.stack,
            "normalize_transcripts": bool(recognizer.normalize),
        },
    }


def feature_settings(fc) -> dict:
    """What computing the graph's features takes, for a caller without lstmkit: the
    :class:`~lstmkit.speech.features.FeatureConfig` fields with ``win_length``, ``hop_length``,
    ``n_fft`` and ``f_max`` resolved to samples and Hz, and how the pipeline of
    :func:`~lstmkit.speech.features.features_of_samples` uses them.

    Frame t covers samples ``[t * hop_length, t * hop_length + win_length)`` (not centred;
    audio shorter than one window is zero-padded to one), times a periodic Hann window,
    zero-padded to ``n_fft``; its power spectrum (N,) times ``mel_filters.npy`` (N, F), plus
    ``log_floor``, is logged; then each band is shifted and scaled: with ``normalize``
    ``"utterance"`` to mean 0 and standard deviation 1 over the utterance (the population std,
    floored at ``std_floor``); with ``"causal"`` (a streaming model) by the running mean and
    deviation of the frames so far, from a prior of ``causal_prior_frames`` frames equal to the
    first with deviation ``causal_prior_std``
    (:func:`~lstmkit.speech.features.normalize_causal`).

    Example:
        >>> from lstmkit.speech.features import FeatureConfig
        >>> s = feature_settings(FeatureConfig())
        >>> s["win_length"], s["hop_length"], s["n_fft"], s["f_max"], s["normalize"]
        (400, 160, 512, 8000.0, 'utterance')
    """
    return {
        **fc.to_dict(),
        "n_fft": fc.fft_size,
        "f_max": fc.top,
        "win_length": fc.win_length,
        "hop_length": fc.hop_length,
        "window": "hann_periodic",
        "center": False,
        "mel_filters": FILTERS_FILE,
        "log_floor": LOG_FLOOR,
        "std_floor": STD_FLOOR,
        "causal_prior_frames": CAUSAL_PRIOR_FRAMES,
        "causal_prior_std": CAUSAL_PRIOR_STD,
        "version": FEATURES_VERSION,
    }


class OnnxSpeechRecognizer:
    """An exported speech recogniser, run with numpy and onnxruntime: :meth:`log_probs`,
    :meth:`greedy` and :meth:`transcribe_features`, as :class:`lstmkit.speech.SpeechRecognizer`
    decodes greedily. The features are the caller's (``manifest["features"]`` says how).

    Args:
        folder: the export folder.
        threads: onnxruntime's intra-op threads (default: its own choice).

    Raises:
        UserError: naming the folder or its manifest when it is not a speech export.

    Example:
        >>> runner = OnnxSpeechRecognizer("speech-onnx")  # doctest: +SKIP
        >>> runner.transcribe_features([features])  # (T, F) each  # doctest: +SKIP
        ['abc d']
    """

    kind = "speech"

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        from lstmkit.export.runtime import onnx_session

        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder, self.kind)
        graph = self.folder / self.manifest["graphs"]["log_probs"]["file"]
        self.session = onnx_session(graph, threads)
        self.n_mels = int(self.manifest["features"]["n_mels"])
        self.blank = int(self.manifest["special_ids"]["blank"])

    def log_probs(self, features, lengths) -> tuple[np.ndarray, np.ndarray]:
        """Padded features (B, T, F) and their lengths (B,) → log-probabilities (B, T', V)
        (rows past an utterance's output length are padding) and output lengths (B,).

        Raises:
            UserError: naming ``features`` (not (B, T, F) finite numbers) or ``lengths`` (not
                (B,) integers in 1..T).
        """
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != self.n_mels or 0 in x.shape:
            raise UserError(f"features: expected (B, T, {self.n_mels}), got shape {x.shape}")
        if not np.isfinite(x).all():
            raise UserError("features: expected finite values, got NaN or infinity")
        n = np.asarray(lengths)
        if n.shape != x.shape[:1] or n.dtype.kind not in "iu" or not (n >= 1).all():
            raise UserError(f"lengths: expected ({x.shape[0]},) integers >= 1, got {n!r:.80}")
        if (n > x.shape[1]).any():
            raise UserError(f"lengths: expected at most T = {x.shape[1]}, got {int(n.max())}")
        out = self.session.run(None, {"features": x, "lengths": n.astype(np.int64)})
        return out[0], out[1]

    def greedy(self, features, lengths) -> list[list[int]]:
        """The best path's token ids per utterance: each frame's most probable id (the lower on
        ties), repeats merged, blanks dropped, as :func:`lstmkit.decode.ctc.ctc_greedy`."""
        log_probs, out_lengths = self.log_probs(features, lengths)
        found = []
        for row, n in zip(log_probs.argmax(-1), out_lengths, strict=True):
            path = row[: int(n)]
            keep = np.ones(len(path), dtype=bool)
            keep[1:] = path[1:] != path[:-1]
            found.append([int(i) for i in path[keep] if i != self.blank])
        return found

    def transcribe_features(self, features: list) -> list[str]:
        """Greedy transcripts of utterances given as features, each (T, F) (the text as
        :meth:`lstmkit.speech.SpeechRecognizer.transcribe` writes it: spaces collapsed)."""
        if not isinstance(features, list | tuple) or not features:
            raise UserError("features: expected a non-empty list of (T, F) arrays, got none")
        items = [np.asarray(f, dtype=np.float32) for f in features]
        for k, f in enumerate(items):
            if f.ndim != 2 or f.shape[1] != self.n_mels or not f.shape[0]:
                raise UserError(
                    f"features[{k}]: expected (T, {self.n_mels}) with T >= 1, got shape {f.shape}"
                )
        lengths = np.array([len(f) for f in items], dtype=np.int64)
        batch = np.zeros((len(items), int(lengths.max()), self.n_mels), np.float32)  # (B, T, F)
        for k, f in enumerate(items):
            batch[k, : len(f)] = f
        tok = load_tokenizer(self.folder / self.manifest["tokenizer"], root=self.folder)
        return [" ".join(tok.decode(ids).split()) for ids in self.greedy(batch, lengths)]


__all__ = ["OnnxSpeechRecognizer", "SpeechGraph", "feature_settings", "write_speech"]
