"""Checkpoints: one directory per run, written atomically, verified on load, no pickle anywhere.

Layout (format ``lstmkit-checkpoint``, version 1)::

    run/
      config.json                  format, format_version, task, the run's config, lstmkit_version,
                                   tied_weights (alias -> stored name) when the model ties weights
      model.safetensors            the model's state_dict, each shared tensor stored once
      tokenizer/                   the tokenizer's files, passed to save_checkpoint as extra_files
      training_state.json          the caller's progress (step, epoch, ...), the optimizer and
                                   scheduler state and the RNG states, with tensors replaced by
                                   {"__tensor__": name}; "tensors" lists their names and shapes
      training_state.safetensors   those tensors: "optimizer.state.<param>.<key>", "rng.torch_cpu"
      manifest.json                {"files": {name: {"sha256": ..., "bytes": ...}}}

JSON cannot hold everything a state_dict holds, so training_state.json marks the rest:
``{"__float__": "inf"}``, ``{"__tuple__": [...]}``, ``{"__int_keys__": {...}}`` (the optimizer's
per-parameter state) and ``{"__ndarray__": [...], "dtype": ...}`` (numpy's RNG key).
"""

from lstmkit.checkpoint.codec import (
    CONFIG_FILE,
    CONFIG_KEYS,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    MODEL_FILE,
    STATE_FILE,
    STATE_TENSORS_FILE,
    TOKENIZER_DIR,
    Checkpoint,
    is_task_name,
)
from lstmkit.checkpoint.load import (
    build_model,
    check_folder,
    is_checkpoint,
    load_checkpoint,
    resolve_checkpoint,
    restore_training,
)
from lstmkit.checkpoint.save import check_output_dir, save_checkpoint

__all__ = [
    "CONFIG_FILE",
    "CONFIG_KEYS",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "STATE_FILE",
    "STATE_TENSORS_FILE",
    "TOKENIZER_DIR",
    "Checkpoint",
    "build_model",
    "check_folder",
    "check_output_dir",
    "is_checkpoint",
    "is_task_name",
    "load_checkpoint",
    "resolve_checkpoint",
    "restore_training",
    "save_checkpoint",
]
