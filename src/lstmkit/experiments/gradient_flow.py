"""The vanishing gradient, measured: ‖∂loss/∂h_t‖ for every step t of a sequence.

The loss of the adding and temporal-order problems is read at the last step only, so the
gradient that reaches h_t has travelled T - 1 - t steps back through the recurrence: a plain
RNN's shrinks geometrically with that distance, an LSTM's need not (its cell is the constant
error carousel of Hochreiter & Schmidhuber 1997).

The gradient is taken with respect to each step's hidden state as a node of the graph that both
the head and the next step read (:meth:`SequenceModel.unrolled`); the (B, T, H) output of a whole
sequence would not do, since a fused kernel's output at step t carries only the head's gradient.

Legend: B batch, T time, I input features (input_size), H hidden.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.experiments.models import SequenceModel
from lstmkit.experiments.problems import Problem


def gradient_norms(
    model: SequenceModel, problem: Problem, inputs: Tensor, targets: Tensor
) -> Tensor:
    """‖∂loss/∂h_t‖ averaged over the batch, by distance from the end.

    Args:
        model: the network (its training mode is kept; dropout-free, so it does not matter).
        problem: gives the loss, the mean over the batch, as in training.
        inputs: (B, T, I).
        targets: the problem's targets for ``inputs``.

    Returns:
        (T,) float: entry k is the batch mean of ‖∂loss/∂h_{T-1-k}‖₂, the Euclidean norm over
        the H units of one sequence's gradient; entry 0 is the last step. The loss is the
        batch mean, so these are B times smaller than each sequence's own gradient.

    Example:
        >>> from lstmkit.experiments.problems import make_problem
        >>> p = make_problem("adding", 20)
        >>> gradient_norms(SequenceModel("rnn", 2, 8, 1), p, *p.sample(4, torch.Generator())).shape
        torch.Size([20])
    """
    device = next(model.parameters()).device
    inputs, targets = inputs.to(device), targets.to(device)
    with torch.enable_grad():
        outputs, hidden = model.unrolled(inputs)
        loss = problem.loss(outputs, targets)
        grads = torch.autograd.grad(loss, hidden)  # T of (B, H)
    norms = torch.stack([g.norm(dim=-1).mean() for g in grads])  # (T,)
    return norms.flip(0).detach().cpu()
