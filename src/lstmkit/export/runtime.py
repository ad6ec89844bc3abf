"""Run an exported model with numpy and onnxruntime only (no torch): the deployment side of
:func:`lstmkit.export.onnx.export_onnx`.

Example (folders written by ``lstmkit export``)::

    lm = OnnxLanguageModel("lm-onnx")
    logits, state = lm.step([5])  # one sentence, token 5: logits (1, V)
    logits, state = lm.step([7], state)
    OnnxSeq2Seq("s2s-onnx").translate(["a b c"])  # ['c b a']

A forecaster's graph takes the windows :meth:`lstmkit.Forecaster.predict` builds (see
:class:`OnnxForecaster` for the preprocessing the caller computes).

Legend: B batch, T time, S source length, V vocabulary, H hidden_size, L num_layers,
K horizon, Q quantiles.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort

MANIFEST = "manifest.json"
FORMAT = "lstmkit-onnx"


def onnx_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session of the graph at ``path``; ``threads``: its intra-op threads
    (None: onnxruntime's choice), one inter-op thread."""
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _Exported:
    """A folder written by ``export_onnx``: its manifest and one session per graph."""

    kind = ""

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        self.folder = Path(folder)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise ValueError(
                f"folder: expected an lstmkit ONNX export with {MANIFEST}, got {self.folder}"
            )
        self.manifest = json.loads(path.read_text(encoding="utf-8"))
        if self.manifest.get("format") != FORMAT or self.manifest.get("kind") != self.kind:
            raise ValueError(
                f"{path}: expected a {FORMAT} export of a {self.kind} model, got "
                f"{self.manifest.get('format')!r} of a "
                f"{self.manifest.get('kind')!r} model"
            )
        self.sessions = {
            name: onnx_session(self.folder / g["file"], threads)
            for name, g in self.manifest["graphs"].items()
        }

    def _names(self, graph: str, side: str) -> list[str]:
        return [v["name"] for v in self.manifest["graphs"][graph][side]]

    def _run(self, graph: str, feeds: dict) -> dict:
        names = self._names(graph, "outputs")
        return dict(zip(names, self.sessions[graph].run(names, feeds), strict=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64."""
    z = logits.astype(np.float64) - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


class OnnxLanguageModel(_Exported):
    """An exported language model: :meth:`step` one token per sentence, :meth:`run` a batch.

    The state is a dict ``{"h0_l0": (1, B, W_0), "c0_l0": ..., ...}`` (per layer; ``c`` only for
    the LSTM cell), as the graphs' inputs are named.

    Args:
        folder: the export folder.
        threads: onnxruntime's intra-op threads (default: its own choice).
    """

    kind = "lm"

    def initial_state(self, batch: int = 1) -> dict[str, np.ndarray]:
        """Zeros for every state input, for ``batch`` sentences."""
        inputs = self.manifest["graphs"]["step"]["inputs"][1:]
        return {v["name"]: np.zeros((1, batch, v["shape"][2]), np.float32) for v in inputs}

    def _call(self, graph: str, ids: np.ndarray, state) -> tuple[np.ndarray, dict]:
        batch = ids.shape[0]
        state = self.initial_state(batch) if state is None else state
        out = self._run(graph, {"ids": ids, **state})
        new = {name.replace("1_l", "0_l", 1): out[name] for name in out if name != "logits"}
        return out["logits"], new

    def step(self, ids, state: dict | None = None) -> tuple[np.ndarray, dict]:
        """Tokens (B,) → next-token logits (B, V) and the new state."""
        return self._call("step", np.asarray(ids, dtype=np.int64).reshape(-1), state)

    def run(self, ids, state: dict | None = None) -> tuple[np.ndarray, dict]:
        """Token ids (B, T) → logits (B, T, V) at every position and the state after them."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"ids: expected a (B, T) array with T >= 1, got shape {ids.shape}")
        return self._call("sequence", ids, state)

    def tokenizer(self):
        """The model's tokenizer (lstmkit's tokenizers need no torch)."""
        from lstmkit.tokenizers import load_tokenizer

        return load_tokenizer(self.folder / self.manifest["tokenizer"], root=self.folder)

    def next_token_probs(self, text_or_ids) -> np.ndarray:
        """(V,) probabilities of the token after a text (encoded with the model's tokenizer) or
        a list of ids; an empty one reads as the end of a text, as in
        :meth:`lstmkit.LanguageModel.next_token_probs`."""
        ids = self.tokenizer().encode(text_or_ids) if isinstance(text_or_ids, str) else text_or_ids
        ids = list(ids) or [self.manifest["special_ids"]["eos"]]
        logits, _ = self.run([ids])
        return softmax(logits[0, -1])


class OnnxSeq2Seq(_Exported):
    """An exported seq2seq model: :meth:`encode`, :meth:`decode_step`, :meth:`greedy` and
    :meth:`translate`, as :class:`lstmkit.Seq2Seq` decodes greedily."""

    kind = "seq2seq"

    def encode(self, src, src_lengths) -> tuple[dict, dict]:
        """Source ids (B, S) and lengths (B,) → memory and the decoder's initial state (dicts of
        the graphs' tensors: ``memory_states``, ``memory_keys``, ``memory_mask``; ``h``, ``c``,
        ``feed``)."""
        out = self._run(
            "encoder",
            {
                "src": np.asarray(src, dtype=np.int64),
                "src_lengths": np.asarray(src_lengths, dtype=np.int64),
            },
        )
        memory = {k: v for k, v in out.items() if k.startswith("memory_")}
        return memory, {k: v for k, v in out.items() if k not in memory}

    def decode_step(self, tokens, state: dict, memory: dict) -> tuple[np.ndarray, dict, object]:
        """Previous tokens (B,) → logits (B, V), the new state and the attention (B, S) (None
        without attention)."""
        feeds = {"tokens": np.asarray(tokens, dtype=np.int64), **state, **memory}
        out = self._run(
            "decoder_step", {k: feeds[k] for k in self._names("decoder_step", "inputs")}
        )
        new = {k[: -len("_out")]: v for k, v in out.items() if k.endswith("_out")}
        return out["logits"], new, out.get("attention")

    def greedy(
        self, src_ids, max_len: int | None = 100, max_len_ratio: float | None = None
    ) -> list[list[int]]:
        """The most probable token at every step, for each source (a list of id lists); pad and
        bos are never output, a sentence at its length limit ends with eos (as
        :func:`lstmkit.decode.greedy`). Returns the output ids without bos, eos and pad."""
        ids = self.manifest["special_ids"]
        pad, bos, eos = ids["pad"], ids["bos"], ids["eos"]
        lengths = np.array([len(s) for s in src_ids], dtype=np.int64)
        src = np.full((len(src_ids), int(lengths.max())), pad, dtype=np.int64)
        for row, s in enumerate(src_ids):
            src[row, : len(s)] = s
        limits = np.full(len(src_ids), math.inf if max_len is None else max_len)
        if max_len_ratio is not None:
            limits = np.minimum(limits, np.maximum(np.ceil(lengths * max_len_ratio), 1))
        memory, state = self.encode(src, lengths)
        tokens = np.full(len(src_ids), bos, dtype=np.int64)
        done = np.zeros(len(src_ids), dtype=bool)
        steps = []
        for t in range(int(limits.max()) + 1):
            logits, state, _ = self.decode_step(tokens, state, memory)
            logits[:, [pad, bos]] = -np.inf
            ending = t >= limits
            logits[ending] = np.where(np.arange(logits.shape[1]) == eos, logits[ending], -np.inf)
            tokens = logits.argmax(-1)
            steps.append(np.where(done, pad, tokens))
            done |= tokens == eos
            if done.all():
                break
        out = []
        for row in np.stack(steps, 1).tolist():
            row = row[: row.index(eos)] if eos in row else row
            out.append([i for i in row if i not in (pad, bos, eos)])
        return out

    def translate(self, sentences, max_len: int | None = 200) -> list[str] | str:
        """Greedy translations of ``sentences`` (blank ones give ""), with the model's
        tokenizers and its default length limit, as ``Seq2Seq.translate(method="greedy")``;
        one sentence (a str) gives one str."""
        from lstmkit.tokenizers import load_tokenizer

        if isinstance(sentences, str):
            return self.translate([sentences], max_len)[0]

        src_tok = load_tokenizer(self.folder / self.manifest["tokenizer"]["src"], root=self.folder)
        tgt_tok = load_tokenizer(self.folder / self.manifest["tokenizer"]["tgt"], root=self.folder)
        decoding = self.manifest["decoding"]
        todo = [k for k, s in enumerate(sentences) if s.strip()]
        src = []
        for k in todo:
            ids = src_tok.encode(sentences[k]) or [src_tok.unk_id]
            src.append(ids[::-1] if decoding["reverse_source"] else ids)
        results = [""] * len(sentences)
        if todo:
            found = self.greedy(src, max_len, decoding["max_len_ratio"])
            for k, ids in zip(todo, found, strict=True):
                results[k] = tgt_tok.decode(ids)
        return results


class OnnxForecaster(_Exported):
    """An exported forecaster: :meth:`forecast_window` from a series' standardised history
    (the window arithmetic inside the graph), or :meth:`forecast` on window-normalised inputs.

    ``manifest["preprocessing"]`` holds what :meth:`lstmkit.Forecaster.predict` does around
    :meth:`forecast_window`, for the caller to repeat: standardise the target with the series'
    ``scaler["target"][name]`` (mean, std) and each covariate column with ``scaler["past"]`` /
    ``scaler["future"]``; give the last ``lookback + lag`` target values; append the
    ``calendar`` features (:func:`lstmkit.data.calendar.calendar_features` of ``freq``) to the
    user's future covariates; then multiply the quantiles by the std and add the mean. A series
    with ``seasonal`` indices (``Forecaster(season_adjust=True)``) is divided by them (subtracted,
    for the additive kind) before it is standardised, and the quantiles multiplied by them (added)
    after (:meth:`lstmkit.forecast.seasonal.SeasonalIndices.remove` and ``restore``). An
    ensemble (``Forecaster(season_adjust="both")``, the default) has one entry per member in
    ``preprocessing["members"]``, each with its own ``lag``, ``scaler``, ``seasonal`` and
    ``adjustment``: repeat the recipe for each (``member=i``) and average the members' quantiles
    in the series' units; the top-level fields are the first member's. With an
    ``adjustment`` (shrinkage and calibration fitted on the validation windows),
    :func:`lstmkit.forecast.calibration.adjust_quantiles` applies it to the standardised
    quantiles and the graph's ``base`` before unscaling; this runner does not.
    """

    kind = "forecast"

    @property
    def members(self) -> int:
        """The networks in the export (an ensemble's members; 1 before ensembles)."""
        return len(self.manifest["preprocessing"].get("members") or [None])

    def _graph(self, kind: str, member: int) -> str:
        if not 0 <= member < self.members:
            raise ValueError(f"member: expected 0 to {self.members - 1}, got {member}")
        return f"{kind}_{member}" if member else kind

    def forecast(
        self, y, past=None, future_hist=None, future_horizon=None, member: int = 0
    ) -> np.ndarray:
        """Look-back y (B, T), past (B, T, P), future covariates (B, T, F) and over the horizon
        (B, K, F) (None where the model has none) → quantiles (B, K, Q), as
        :meth:`lstmkit.models.forecaster.LSTMForecaster.forecast` of the ``member``-th
        network."""
        given = {"y": y, "past": past, "future_hist": future_hist, "future_horizon": future_horizon}
        graph = self._graph("forecast", member)
        return self._run(graph, self._feeds(graph, given))["quantiles"]

    def forecast_window(
        self, history, past=None, future_hist=None, future_horizon=None, member: int = 0
    ):
        """Series-standardised history (B, lookback + lag), the user's past covariates
        (B, lookback, P), future covariates with calendar features (B, lookback, F) and
        (B, K, F) (None where the model has none) → quantiles (B, K, Q) in series-standardised
        units, unadjusted, and the seasonal naive ``base`` (B, K), of the ``member``-th network
        (its view's lag and standardisation: ``preprocessing["members"][member]``)."""
        given = {
            "history": history,
            "past": past,
            "future_hist": future_hist,
            "future_horizon": future_horizon,
        }
        graph = self._graph("forecast_window", member)
        out = self._run(graph, self._feeds(graph, given))
        return out["quantiles"], out["base"]

    def _feeds(self, graph: str, given: dict) -> dict:
        names = self._names(graph, "inputs")
        wrong = [k for k, v in given.items() if (v is None) == (k in names)]
        if wrong:
            raise ValueError(
                f"inputs: expected {', '.join(names)}, got "
                f"{', '.join(k for k, v in given.items() if v is not None)}"
            )
        return {k: np.asarray(given[k], dtype=np.float32) for k in names}
