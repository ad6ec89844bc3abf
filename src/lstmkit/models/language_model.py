"""The LSTM language model: embedding → recurrent stack → dropout → output layer.

The regularisers are AWD-LSTM's (Merity et al. 2018), because the notes name overfitting as the
LSTM's weakness: embedding dropout (whole word types dropped from the embedding matrix), locked
(variational) dropout — one mask per sequence, the same at every step — on the embeddings, between
layers and on the output, and weight-drop (DropConnect) on the recurrent weights. With
``tie_weights`` the output layer shares the embedding matrix (Press & Wolf 2017), and the last
layer's width is the embedding size so that the shapes agree.

Legend: B batch, T time, E embedding_size, H hidden_size, V vocab_size, L num_layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.nn import recurrent
from lstmkit.nn.rnn import CELLS

DEFAULT_WEIGHT_DROP = 0.3  # the LSTM's, when LMConfig.weight_drop is None
State = list  # per layer: (h, c) for the LSTM, h for GRU and RNN; each (1, B, width)


@dataclass
class LMConfig:
    """Hyperparameters of :class:`LSTMLanguageModel`.

    The defaults are a small word-level model sized for a few minutes on two CPU cores (one
    layer of 256, embeddings of 64): chosen on the validation splits of a family of keyword-
    memory corpora (:mod:`lstmkit.data.keyword_family`); the keyword-family benchmark page has
    the measurements. Its dropout (0.3 on the output, DropConnect 0.3 on the LSTM's recurrent
    weights) keeps the validation loss from rising once a small corpus's filler is learned, so
    that ``best/`` does not stop at the epoch a long dependency is first learned. Real text
    with hours to train wants more: two layers of 512 and more dropout, as the Tiny Shakespeare
    page uses.
    """

    vocab_size: int
    embedding_size: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.3  # locked dropout on the last layer's output
    embedding_dropout: float = 0.0  # whole word types dropped from the embedding matrix
    input_dropout: float = 0.0  # locked dropout on the embedded input
    layer_dropout: float = 0.2  # locked dropout between recurrent layers
    # DropConnect on the recurrent weights (LSTM only); None: 0.3 for the LSTM, 0 for the others
    weight_drop: float | None = None
    tie_weights: bool = False

    def __post_init__(self) -> None:
        if self.weight_drop is None:
            self.weight_drop = DEFAULT_WEIGHT_DROP if self.cell == "lstm" else 0.0
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        if self.vocab_size < 2:
            raise UserError(f"vocab_size: expected at least 2, got {self.vocab_size}")
        if self.cell not in CELLS:
            raise UserError(f"cell: expected one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in (
            "dropout",
            "embedding_dropout",
            "input_dropout",
            "layer_dropout",
            "weight_drop",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value < 1:
                raise UserError(f"{name}: expected a probability in [0, 1), got {value!r}")
        if self.weight_drop and self.cell != "lstm":
            raise UserError(f"weight_drop: only the LSTM cell has it, got cell={self.cell!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def locked_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout with one mask per sequence for all its steps (Gal & Ghahramani 2016); x (B, T, ·)."""
    if not training or p == 0:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p).div_(1 - p)
    return x * mask


def embedding_dropout(embed: nn.Embedding, ids: Tensor, p: float, training: bool) -> Tensor:
    """Embeds ids (B, T) → (B, T, E), dropping whole word types with probability p in training."""
    weight = embed.weight
    if training and p > 0:
        keep = weight.new_empty(weight.shape[0], 1).bernoulli_(1 - p).div_(1 - p)
        weight = weight * keep
    return nn.functional.embedding(ids, weight, embed.padding_idx)


class LSTMLanguageModel(nn.Module):
    """Predicts each next token from the tokens so far.

    Example:
        >>> import torch
        >>> model = LSTMLanguageModel(LMConfig(vocab_size=50, embedding_size=8, hidden_size=16))
        >>> logits, state = model(torch.randint(0, 50, (4, 10)))
        >>> logits.shape
        torch.Size([4, 10, 50])
    """

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embedding_size)
        widths = [c.embedding_size] + [c.hidden_size] * (c.num_layers - 1)
        widths.append(c.embedding_size if c.tie_weights else c.hidden_size)
        extra = {"weight_drop": c.weight_drop, "forget_bias": 1.0} if c.cell == "lstm" else {}
        # One module per layer, so that the dropout between layers can be locked over time.
        self.layers = nn.ModuleList(
            recurrent(c.cell, widths[k], widths[k + 1], batch_first=True, **extra)
            for k in range(c.num_layers)
        )
        self.output = nn.Linear(widths[-1], c.vocab_size)
        if c.tie_weights:
            self.output.weight = self.embed.weight
        self._init_weights()

    def _init_weights(self) -> None:
        # Small uniform embeddings and a zero output bias, as in Zaremba et al. and AWD-LSTM.
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.zeros_(self.output.bias)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits of the next token at every position.

        Args:
            ids: (B, T) token ids.
            state: the state returned by the previous call (truncated BPTT carries it across
                batches), or None to start from zeros.

        Returns:
            logits (B, T, V) and the new state (one entry per layer).
        """
        c = self.config
        x = embedding_dropout(self.embed, ids, c.embedding_dropout, self.training)  # (B, T, E)
        x = locked_dropout(x, c.input_dropout, self.training)
        new_state = []
        for k, layer in enumerate(self.layers):
            x, layer_state = layer(x, None if state is None else state[k])  # (B, T, width)
            new_state.append(layer_state)
            last = k == len(self.layers) - 1
            x = locked_dropout(x, c.dropout if last else c.layer_dropout, self.training)
        return self.output(x), new_state

    @staticmethod
    def detach_state(state: State) -> State:
        """The state cut from the graph, for the next truncated-BPTT window."""
        return [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
