"""Figures of an experiment: the learning curves and the gradient flow, one line per cell.

Figures are plain :class:`matplotlib.figure.Figure` objects rendered with Agg, as in
:mod:`lstmkit.forecast.plot`: no display, no global pyplot state.
"""

from __future__ import annotations

from pathlib import Path

COLORS = {"lstm": "tab:blue", "gru": "tab:green", "rnn": "tab:red"}
DPI = 110


def plot_curves(result: dict, out: str | Path) -> Path:
    """Test error (log scale) and fraction solved against training steps, one line per cell;
    ``result`` is :func:`lstmkit.experiments.run.run_experiment`'s record."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=DPI)
    error_ax, solved_ax = fig.subplots(1, 2)
    for cell in result["cells"]:
        steps = [c["step"] for c in cell["curve"]]
        color = COLORS.get(cell["cell"])
        error_ax.plot(steps, [c["error"] for c in cell["curve"]], label=cell["cell"], color=color)
        solved_ax.plot(steps, [c["solved"] for c in cell["curve"]], label=cell["cell"], color=color)
    solved_ax.axhline(result["solved_fraction"], color="grey", linestyle=":", linewidth=1)
    error_ax.set(xlabel="training step", ylabel=f"test {result['error_name']}", yscale="log")
    solved_ax.set(
        xlabel="training step", ylabel="fraction of test sequences solved", ylim=(0, 1.02)
    )
    for ax in (error_ax, solved_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{result['problem']}, T = {result['length']}")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    return out


def plot_gradient_flow(result: dict, out: str | Path) -> Path:
    """‖∂loss/∂h_t‖ against the distance from the end (log y-axis), one colour per cell:
    dashed at initialisation, solid after training."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=DPI)
    ax = fig.subplots()
    underflow = False
    for cell in result["cells"]:
        flow, color = cell["gradient_flow"], COLORS.get(cell["cell"])
        for when, style in (("init", "--"), ("trained", "-")):
            norms = flow[when]
            # a norm that underflowed to 0 has no place on a log axis; it is left out
            points = [(k, v) for k, v in enumerate(norms) if v > 0]
            underflow = underflow or len(points) < len(norms)
            label = f"{cell['cell']} ({'at initialisation' if when == 'init' else 'trained'})"
            if points:
                ax.plot(*zip(*points, strict=True), style, color=color, label=label)
    ax.set(
        xlabel="distance from the end (steps), T - 1 - t",
        yscale="log",
        ylabel="‖∂loss/∂h_t‖ (mean over sequences)",
    )
    ax.set_title(f"gradient flow: {result['problem']}, T = {result['length']}")
    if underflow:
        ax.text(
            0.99,
            0.99,
            "a line that stops: the norm underflowed to 0 (float32) further back",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
        )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    return out
