"""The GPU path, training: the trainer (fp32 and bf16) and a one-process NCCL group on CUDA.

Every test here needs a CUDA device and skips without one, saying so; ``make gpu-check``
(``benchmarks/gpu_check.py``) runs them with the layer benchmark on a GPU machine.
"""

import math
import socket

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from test_trainer import ToyTask, make_model

from lstmkit.train.config import native_bf16
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (run `make gpu-check` on one)"
)

CUDA = torch.device("cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_trainer_trains_on_cuda(tmp_path, precision):
    if precision == "bf16" and not native_bf16(CUDA):
        pytest.skip("this GPU has no bfloat16 support")
    task = ToyTask()
    trainer = Trainer(
        make_model(0),
        task,
        OptimConfig(lr=0.01),
        TrainConfig(epochs=3, log_every=2, precision=precision),
        tmp_path / "run",
        progress=False,
        device="cuda",
    )
    assert next(trainer.model.parameters()).device.type == "cuda"
    progress = trainer.fit()
    losses = [h["loss"] for h in progress.history]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]


def test_a_one_process_nccl_group_reduces_on_the_gpu():
    if not dist.is_nccl_available():
        pytest.skip("this torch has no NCCL")
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        x = torch.arange(4.0, device=CUDA)
        dist.all_reduce(x)
        torch.testing.assert_close(x, torch.arange(4.0, device=CUDA))
        model = torch.nn.parallel.DistributedDataParallel(
            torch.nn.Linear(3, 1).to(CUDA), device_ids=[0]
        )
        loss = F.mse_loss(model(torch.ones(2, 3, device=CUDA)), torch.zeros(2, 1, device=CUDA))
        loss.backward()
        assert all(p.grad is not None for p in model.parameters())
    finally:
        dist.destroy_process_group()
