"""Long-time-lag experiments: does a cell keep information over a long gap?

The adding, temporal-order and copy problems of Hochreiter & Schmidhuber (1997), generated on the
fly (:mod:`~lstmkit.experiments.problems`); each cell trained with the same budget through the
one trainer (:mod:`~lstmkit.experiments.run`); the gradient ‖∂loss/∂h_t‖ against the distance
from the end (:mod:`~lstmkit.experiments.gradient_flow`); and their figures
(:mod:`~lstmkit.experiments.plots`).
"""

from lstmkit.experiments.gradient_flow import gradient_norms
from lstmkit.experiments.models import SequenceModel
from lstmkit.experiments.problems import PROBLEMS, make_problem
from lstmkit.experiments.run import ExperimentConfig, run_experiment

__all__ = [
    "PROBLEMS",
    "ExperimentConfig",
    "SequenceModel",
    "gradient_norms",
    "make_problem",
    "run_experiment",
]
