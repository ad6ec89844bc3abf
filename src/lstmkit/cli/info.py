"""`lstmkit info`: versions, threads and devices — what a bug report needs."""

from __future__ import annotations

import argparse
import json
import platform

import torch

from lstmkit import __version__


def collect() -> dict:
    """The facts `lstmkit info` reports, as plain data."""
    return {
        "lstmkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "mkldnn": torch.backends.mkldnn.is_available(),
        "backends": ["fused", "explicit"],
    }


def run(args: argparse.Namespace) -> int:
    facts = collect()
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:<{width}}  {shown if shown != '' else '-'}")
    return 0


def register(commands) -> None:
    parser = commands.add_parser("info", help="show versions, threads and devices")
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.set_defaults(run=run)
