"""Bad arguments raise ValueError with a message that names the argument."""

import pytest
import torch

from lstmkit.nn import LSTM

I, H, T, B = 3, 5, 6, 4
HX = r"hx|h_0|c_0"


@pytest.fixture(params=["fused", "explicit"])
def lstm(request):
    # Validation happens before dispatch, so both backends must reject the same inputs.
    return LSTM(I, H, num_layers=2, bidirectional=True, backend=request.param)


@pytest.mark.parametrize(
    "shape",
    [pytest.param((T, B, I, 1), id="4-D"), pytest.param((T,), id="1-D")],
)
def test_input_wrong_rank(lstm, shape):
    with pytest.raises(ValueError, match="input"):
        lstm(torch.randn(shape))


def test_input_wrong_feature_size_says_expected_and_got(lstm):
    with pytest.raises(ValueError, match="input") as info:
        lstm(torch.randn(T, B, 7))
    message = str(info.value)
    assert "3" in message, message  # what was expected (input_size)
    assert "7" in message, message  # what came


def test_unbatched_input_wrong_feature_size(lstm):
    with pytest.raises(ValueError, match="input"):
        lstm(torch.randn(T, 7))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_input_non_float_dtype(lstm, dtype):
    with pytest.raises(ValueError, match="input"):
        lstm(torch.ones(T, B, I, dtype=dtype))


@pytest.mark.parametrize(
    "lengths",
    [
        pytest.param([2, 9, 1, 3], id="longer-than-T"),
        pytest.param([2, 0, 1, 3], id="zero"),
        pytest.param([2, -1, 1, 3], id="negative"),
        pytest.param(torch.tensor([7, 6, 6, 6]), id="tensor-longer-than-T"),
    ],
)
def test_lengths_out_of_range(lstm, lengths):
    with pytest.raises(ValueError, match="lengths"):
        lstm(torch.randn(T, B, I), lengths=lengths)


def test_lengths_too_long_says_expected_and_got(lstm):
    with pytest.raises(ValueError, match="lengths") as info:
        lstm(torch.randn(T, B, I), lengths=[2, 9, 1, 3])
    message = str(info.value)
    assert "9" in message, message
    assert str(T) in message, message


@pytest.mark.parametrize(
    "lengths",
    [
        pytest.param([2, 3, 1], id="too-few"),
        pytest.param([2, 3, 1, 4, 5], id="too-many"),
        pytest.param(torch.tensor([[2, 3, 1, 4]]), id="2-D"),
        pytest.param(torch.tensor(3), id="0-D"),
    ],
)
def test_lengths_wrong_shape(lstm, lengths):
    with pytest.raises(ValueError, match="lengths"):
        lstm(torch.randn(T, B, I), lengths=lengths)


def test_lengths_wrong_size_batch_first():
    lstm = LSTM(I, H, batch_first=True)
    with pytest.raises(ValueError, match="lengths"):
        # B = 4 is dim 0 here; a size-6 lengths would only match the time dimension.
        lstm(torch.randn(B, T, I), lengths=[1] * T)


@pytest.mark.parametrize(
    "which",
    ["h_layers", "h_batch", "h_hidden", "c_layers", "c_batch", "c_hidden"],
)
def test_hx_wrong_shape(lstm, which):
    shapes = {"h": [4, B, H], "c": [4, B, H]}
    state, dim = which.split("_")
    shapes[state][["layers", "batch", "hidden"].index(dim)] += 1
    hx = (torch.zeros(shapes["h"]), torch.zeros(shapes["c"]))
    with pytest.raises(ValueError, match=HX):
        lstm(torch.randn(T, B, I), hx)


def test_hx_with_proj_must_use_proj_size():
    lstm = LSTM(I, H, proj_size=2)
    good_c = torch.zeros(1, B, H)
    with pytest.raises(ValueError, match=HX):
        lstm(torch.randn(T, B, I), (torch.zeros(1, B, H), good_c))  # h_0 must have proj_size
    with pytest.raises(ValueError, match=HX):
        lstm(torch.randn(T, B, I), (torch.zeros(1, B, 2), torch.zeros(1, B, 2)))


def test_hx_wrong_rank_for_batched_input(lstm):
    with pytest.raises(ValueError, match=HX):
        lstm(torch.randn(T, B, I), (torch.zeros(4, H), torch.zeros(4, H)))


def test_fused_backend_cannot_return_gates():
    lstm = LSTM(I, H, backend="fused")
    with pytest.raises(ValueError, match=r"return_gates|fused"):
        lstm(torch.randn(T, B, I), return_gates=True)


# ---- constructor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(input_size=0), "input_size"),
        (dict(input_size=-2), "input_size"),
        (dict(hidden_size=0), "hidden_size"),
        (dict(hidden_size=-1), "hidden_size"),
        (dict(num_layers=0), "num_layers"),
        (dict(dropout=-0.1), "dropout"),
        (dict(dropout=1.5), "dropout"),
        (dict(proj_size=H), "proj_size"),
        (dict(proj_size=H + 2), "proj_size"),
        (dict(proj_size=-1), "proj_size"),
        (dict(backend="cudnn"), "backend"),
        (dict(backend="FUSED!"), "backend"),
    ],
)
def test_constructor_rejects(kwargs, name):
    args = dict(input_size=I, hidden_size=H) | kwargs
    with pytest.raises(ValueError, match=name):
        LSTM(**args)


@pytest.mark.parametrize(
    "variant",
    [dict(peephole=True), dict(layer_norm=True), dict(zoneout=0.2)],
    ids=lambda v: next(iter(v)),
)
def test_fused_backend_rejects_explicit_only_variants(variant):
    name = next(iter(variant))
    with pytest.raises(ValueError, match=rf"backend|{name}"):
        LSTM(I, H, backend="fused", **variant)


@pytest.mark.parametrize("backend", ["auto", "fused", "explicit"])
def test_valid_backends_accepted(backend):
    # The negative tests above only mean something if valid arguments are accepted.
    lstm = LSTM(I, H, backend=backend, weight_drop=0.2, forget_bias=1.0)
    out, _ = lstm(torch.randn(T, B, I), lengths=[1, T, 3, 2])
    assert out.shape == (T, B, H)
