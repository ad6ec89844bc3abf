"""Mixed precision (``precision="bf16"``): the training step under torch.autocast, float32 kept
where it must be, the LSTM layer's backends under autocast, and the option on the command line.

The references: the same computation in float32 (bfloat16 has an 8-bit mantissa, so results
agree to about 1%, never exactly), and the explicit backend's own float32 result, which it must
reproduce exactly under autocast.
"""

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_trainer import VOCAB, ToyTask, make_model, train  # pytest puts this folder on sys.path

from lstmkit.checkpoint import load_checkpoint
from lstmkit.cli.main import main
from lstmkit.errors import Notice, UserError
from lstmkit.models import ForecastConfig, build_forecaster
from lstmkit.nn import LSTM
from lstmkit.train.config import TrainConfig, native_bf16


class DtypeProbe(ToyTask):
    """Records the dtype of the language model's LSTM output in every training step, and the
    carried state's dtype as the step receives it."""

    def __init__(self):
        super().__init__()
        self.outputs, self.carried = [], []

    def train_loss(self, model, batch, carry):
        if carry is not None:
            self.carried.append(carry[0][0].dtype)  # the first layer's h
        hook = model.layers[0].register_forward_hook(
            lambda m, i, out: self.outputs.append(out[0].dtype)
        )
        try:
            return super().train_loss(model, batch, carry)
        finally:
            hook.remove()


def test_a_bf16_run_computes_its_lstm_in_bfloat16_and_keeps_float32_state(tmp_path):
    task = DtypeProbe()
    trainer, _ = train(tmp_path / "run", task=task, epochs=1, max_steps=4, precision="bf16")
    assert set(task.outputs) == {torch.bfloat16}
    assert set(task.carried) == {torch.float32}  # carried, and checkpointed, as float32
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    moments = [s["exp_avg"] for s in trainer.optimizer.state.values()]
    assert moments
    assert all(m.dtype == torch.float32 for m in moments)
    saved = load_checkpoint(tmp_path / "run" / "last", task="lm")
    assert saved.config["training"]["precision"] == "bf16"
    carried = [t for layer in saved.training_state["carry"] for t in layer]
    assert carried
    assert all(t.dtype == torch.float32 for t in carried)


def test_an_fp32_run_is_untouched(tmp_path):
    task = DtypeProbe()
    train(tmp_path / "run", task=task, epochs=1)
    assert set(task.outputs) == {torch.float32}


def test_a_bf16_run_repeats_exactly_with_its_seed(tmp_path):
    a, _ = train(tmp_path / "a", epochs=1, precision="bf16")
    b, _ = train(tmp_path / "b", epochs=1, precision="bf16")
    fp32, _ = train(tmp_path / "c", epochs=1)
    wa, wb, wc = (t.model.state_dict() for t in (a, b, fp32))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)  # the option changed the arithmetic


def lm_gradients(model, batch, precision):
    model.zero_grad(set_to_none=True)
    x, y = batch
    with torch.autocast("cpu", torch.bfloat16, precision == "bf16"):
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
    loss.backward()
    return loss.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])


def test_bf16_loss_and_gradient_agree_with_float32_to_bfloat16_precision():
    model = make_model(0).eval()  # no dropout: the same function in both precisions
    batch = next(ToyTask().batches(0, 0))
    loss32, grad32 = lm_gradients(model, batch, "fp32")
    loss16, grad16 = lm_gradients(model, batch, "bf16")
    assert loss16.dtype == torch.float32
    assert loss16 == pytest.approx(loss32.item(), rel=1e-2)
    error = (grad16 - grad32).norm() / grad32.norm()
    assert 0 < error < 3e-2  # bfloat16's rounding, and no more


def test_bf16_without_hardware_support_says_it_will_be_slow(tmp_path, monkeypatch):
    monkeypatch.setattr("lstmkit.train.trainer.native_bf16", lambda device: False)
    with pytest.warns(Notice, match="precision bf16: this CPU has no bfloat16 arithmetic"):
        train(tmp_path / "a", epochs=1, max_steps=1, precision="bf16")
    monkeypatch.setattr("lstmkit.train.trainer.native_bf16", lambda device: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Notice)
        train(tmp_path / "b", epochs=1, max_steps=1, precision="bf16")
        train(tmp_path / "c", epochs=1, max_steps=1)


def test_native_bf16_agrees_with_the_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to read the CPU's flags from")
    flags = cpuinfo.read_text(errors="replace")
    if " avx512_bf16" in flags or " amx_bf16" in flags:
        assert native_bf16(torch.device("cpu"))
    elif " avx512f" not in flags and " avx2" not in flags:
        assert not native_bf16(torch.device("cpu"))


def test_unknown_precision_is_refused():
    with pytest.raises(UserError, match="precision: expected one of fp32, bf16, auto, got 'fp16'"):
        TrainConfig(precision="fp16")


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_where_the_device_computes_it(tmp_path, monkeypatch, native):
    monkeypatch.setattr("lstmkit.train.trainer.native_bf16", lambda device: native)
    task = DtypeProbe()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Notice)  # auto never warns: it never emulates
        train(tmp_path / "run", task=task, epochs=1, max_steps=2, precision="auto")
    assert set(task.outputs) == {torch.bfloat16 if native else torch.float32}
    saved = load_checkpoint(tmp_path / "run" / "last", task="lm")
    assert saved.config["training"]["precision"] == "auto"


# ---------------------------------------------------------------- the LSTM layer under autocast
def lstm_pair(**kw):
    torch.manual_seed(0)
    m = LSTM(5, 8, num_layers=2, batch_first=True, **kw)
    return m, torch.randn(4, 6, 5)


def test_torch_kernel_runs_in_bfloat16_under_autocast():
    m, x = lstm_pair()
    want, _ = m(x)
    with torch.autocast("cpu", torch.bfloat16):
        got, (_h, _c) = m(x)
    assert got.dtype == torch.bfloat16
    assert 0 < (got.float() - want).abs().max() < 2e-2


def test_padded_inference_stays_on_torch_kernel_under_autocast():
    """Outside training, padded batches keep torch's kernel, which computes in bfloat16."""
    m, x = lstm_pair()
    m.eval()
    lengths = [6, 4, 3, 1]
    with torch.no_grad():
        with torch.autocast("cpu", torch.bfloat16):
            out, _ = m(x, lengths=lengths)
        reference, _ = m(x, lengths=lengths)
    assert out.dtype == torch.bfloat16
    assert torch.all(out[3, 1:] == 0)  # padding still zero
    assert (out.float() - reference).abs().max() < 2e-2


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize(
    "kw", [{}, {"bidirectional": True}, {"backend": "explicit"}, {"layer_norm": True}]
)
def test_padded_training_under_autocast_runs_the_explicit_backend_with_bf16_products(kw):
    """Padded training batches under autocast go to lstmkit's recurrence, as in float32: its
    input projections are bfloat16 products and the rest float32. The reference is the same
    layer in float32: outputs and gradients agree to bfloat16's rounding, and differ (the
    products did run in bfloat16)."""
    m, x = lstm_pair(dropout=0.0, **kw)
    lengths = [6, 4, 3, 1]
    weight = torch.randn(4, 6, m.hidden_size * (2 if m.bidirectional else 1))

    def run(autocast: bool):
        m.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            out, (h, c) = m(x, lengths=lengths)
        ((out * weight).sum() + h.sum() + c.sum()).backward()
        return out, h, c, torch.cat([p.grad.flatten() for p in m.parameters()])

    out32, h32, c32, grad32 = run(False)
    out16, h16, c16, grad16 = run(True)
    assert {t.dtype for t in (out16, h16, c16, grad16)} == {torch.float32}
    assert torch.all(out16[3, 1:] == 0)
    for got, want in ((out16, out32), (h16, h32), (c16, c32), (grad16, grad32)):
        assert 0 < relative(got, want) < 2e-2


def test_the_explicit_variants_keep_float32_under_autocast():
    """Zoneout's expectation (eval) under autocast: outputs in float32, as without it."""
    m, x = lstm_pair(zoneout=0.1)
    m.eval()
    lengths = [6, 4, 3, 1]
    want, _ = m(x, lengths=lengths)
    with torch.autocast("cpu", torch.bfloat16):
        got, (h16, c16) = m(x, lengths=lengths)
    assert got.dtype == h16.dtype == c16.dtype == torch.float32
    assert 0 < relative(got, want) < 2e-2
    assert torch.all(got[3, 1:] == 0)


def test_forecaster_finds_its_fed_back_values_in_float32_under_autocast():
    """The autoregressive decoder's search for what it feeds back runs outside autocast: the
    same values as without it, from the same float32 state."""
    torch.manual_seed(0)
    config = ForecastConfig(horizon=5, hidden_size=8, num_layers=2, quantiles=(0.1, 0.5, 0.9))
    head = build_forecaster(config).head
    last, state = torch.randn(3), (torch.randn(2, 3, 8), torch.randn(2, 3, 8))
    with torch.no_grad():
        want = head._free_run(last, None, state, 5, None, 0.0, None)
        with torch.autocast("cpu", torch.bfloat16):
            got = head._free_run(last, None, state, 5, None, 0.0, None)
            bf16_state = (state[0].bfloat16(), state[1].bfloat16())
            from_bf16 = head._free_run(last, None, bf16_state, 5, None, 0.0, None)
    assert torch.equal(got, want)
    assert from_bf16.dtype == torch.float32


def test_forecaster_trains_in_bf16():
    torch.manual_seed(0)
    model = build_forecaster(ForecastConfig(horizon=4, hidden_size=8, one_step_loss=1.0))
    y, target = torch.randn(6, 12), torch.randn(6, 4)
    want = model.loss(y, target=target)
    with torch.autocast("cpu", torch.bfloat16):
        got = model.loss(y, target=target)
    got.backward()
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(want.item(), rel=2e-2)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


# ----------------------------------------------------------------------------- command line
TEXT = "".join(f"the cat sat on the mat number {i % 7}\n" for i in range(60))
TINY = (
    "lm train --tokenizer char --embedding-size 8 --hidden-size 16 --num-layers 1 "
    "--batch-size 4 --bptt 16 --epochs 1 --no-progress"
).split()


def test_precision_from_the_command_line_and_a_config_file(tmp_path):
    data = tmp_path / "text.txt"
    data.write_text(TEXT)
    assert (
        main([*TINY, "--data", str(data), "--out", str(tmp_path / "a"), "--precision", "bf16"]) == 0
    )
    assert load_checkpoint(tmp_path / "a" / "last").config["training"]["precision"] == "bf16"
    config = tmp_path / "c.yaml"
    config.write_text("precision: bf16\n")
    assert (
        main([*TINY, "--data", str(data), "--out", str(tmp_path / "b"), "--config", str(config)])
        == 0
    )
    assert load_checkpoint(tmp_path / "b" / "last").config["training"]["precision"] == "bf16"


def test_a_wrong_precision_exits_2_naming_the_option(tmp_path, capsys):
    data = tmp_path / "text.txt"
    data.write_text(TEXT)
    code = main([*TINY, "--data", str(data), "--out", str(tmp_path / "a"), "--precision", "fp16"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--precision" in err
    assert "fp16" in err
    assert "Traceback" not in err
    assert not (tmp_path / "a").exists()


def test_weight_gradients_products_in_bfloat16_against_the_formula():
    """A weight gradient over the (B*T) rows, Σ_{b,t} d ⊗ h, as the recurrences form it under
    autocast: the operands rounded to bfloat16, summed (written out with einsum in float64), the
    sum rounded to bfloat16 as a bfloat16 product's result is (to one unit in its last place:
    the summation order differs), returned in float32; None keeps the float32 product."""
    from lstmkit.nn.recurrence import _rows_product

    torch.manual_seed(0)
    d, h = torch.randn(3, 7, 12), torch.randn(3, 7, 5)
    rounded = [t.to(torch.bfloat16).double() for t in (d, h)]
    formula = torch.einsum("btn,btm->nm", *rounded)
    got = _rows_product(d, h, torch.bfloat16)
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), formula, rtol=2**-8, atol=1e-6)
    exact = torch.einsum("btn,btm->nm", d.double(), h.double())
    assert torch.allclose(_rows_product(d, h, None).double(), exact, atol=1e-5)
    assert (got.double() - exact).abs().max() > 1e-4  # it did round


@pytest.mark.parametrize(
    ("kw", "threads"),
    [({}, 1), ({"bidirectional": True}, 1), ({"bidirectional": True}, 2), ({"proj_size": 3}, 1)],
)
def test_recurrent_weight_gradient_is_a_bfloat16_product_under_autocast(kw, threads, monkeypatch):
    """Padded training under autocast: the recurrent weights' gradients (and the projection's)
    are bfloat16 products too (each layer-direction asks for one), close to float32's; with two
    threads a bidirectional layer's directions run at once (PairedRecurrence), with one apart."""
    from lstmkit.nn import kernel, recurrence

    m, x = lstm_pair(dropout=0.0, backend="explicit", **kw)
    paired, apply = [], recurrence.PairedRecurrence.apply
    monkeypatch.setattr(
        recurrence.PairedRecurrence, "apply", lambda *a: paired.append(1) or apply(*a)
    )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    lengths = [6, 4, 3, 1]
    asked, product = [], recurrence._rows_product

    def recording(d, h, products):
        asked.append(products)
        return product(d, h, products)

    monkeypatch.setattr(recurrence, "_rows_product", recording)

    def grads(autocast: bool):
        asked.clear()
        m.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            out, _ = m(x, lengths=lengths)
        out.square().sum().backward()
        return {n: p.grad.clone() for n, p in m.named_parameters() if "_hh" in n or "_hr" in n}

    try:
        want = grads(False)
        assert asked
        assert set(asked) == {None}
        got = grads(True)
    finally:
        torch.set_num_threads(before)
    pairs = threads > 1 and m.bidirectional and kernel.load() is not None
    assert len(paired) == (2 * m.num_layers if pairs else 0)  # both passes
    per_layer = 2 if m.proj_size else 1
    assert asked == [torch.bfloat16] * (per_layer * m.num_layers * (2 if m.bidirectional else 1))
    for name in want:
        if "bias" in name:
            continue
        assert got[name].dtype == torch.float32, name
        assert 0 < relative(got[name], want[name]) < 2e-2, name
