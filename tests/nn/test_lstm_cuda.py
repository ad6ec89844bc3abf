"""The GPU path, the layer: both LSTM backends and bf16 autocast on CUDA.

Every test here needs a CUDA device and skips without one, saying so; ``make gpu-check``
(``benchmarks/gpu_check.py``) runs them with the layer benchmark on a GPU machine.
"""

import pytest
import torch

from lstmkit.nn import LSTM
from lstmkit.train.config import native_bf16

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (run `make gpu-check` on one)"
)

CUDA = torch.device("cuda")


@pytest.mark.parametrize("backend", ["fused", "explicit"])
def test_lstm_on_cuda_matches_torch_nn_lstm(backend):
    ours = LSTM(12, 16, num_layers=2, batch_first=True, backend=backend).to(CUDA)
    reference = torch.nn.LSTM(12, 16, num_layers=2, batch_first=True).to(CUDA)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(3, 9, 12, device=CUDA, requires_grad=True)
    y, (h, c) = ours(x)
    y_ref, (h_ref, c_ref) = reference(x)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close((h, c), (h_ref, c_ref), atol=1e-5, rtol=1e-4)
    (grad,) = torch.autograd.grad(y.square().sum(), x)
    (grad_ref,) = torch.autograd.grad(y_ref.square().sum(), x)
    torch.testing.assert_close(grad, grad_ref, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("backend", ["fused", "explicit"])
def test_lstm_under_bf16_autocast_stays_close_to_fp32(backend):
    if not native_bf16(CUDA):
        pytest.skip("this GPU has no bfloat16 support")
    lstm = LSTM(32, 64, batch_first=True, backend=backend).to(CUDA)
    x = torch.randn(4, 20, 32, device=CUDA)
    full, _ = lstm(x)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        half, _ = lstm(x)
    assert torch.isfinite(half).all()
    # bfloat16 keeps 8 bits of mantissa: a few hundredths on values in (-1, 1)
    assert (half.float() - full).abs().max().item() < 0.05
