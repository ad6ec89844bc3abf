"""The explicit backend's fused CPU kernel, built from `csrc/lstm_cell.cpp` on first use, and
the trainer's switch for flushing subnormal floats on every thread.

torch's C++ extension loader compiles it once per machine (about 40 s, cached under
``~/.cache/torch_extensions``). Without a compiler, or with ``LSTMKIT_NO_KERNEL=1``, the explicit
backend runs its Python loop instead: the same results, slower at small sizes; and the trainer
flushes subnormal floats on its calling thread alone, as ``torch.set_flush_denormal`` does.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import sys
import warnings
from pathlib import Path

SOURCE = Path(__file__).parent / "csrc" / "lstm_cell.cpp"


def _cpu_tag() -> str:
    """A short tag of this CPU's features: the build uses -march=native, so it is per CPU."""
    flags = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags += line
                break
    except OSError:
        pass
    return hashlib.sha1(flags.encode()).hexdigest()[:8]


def _is_built(name: str) -> bool:
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return any(Path(_get_build_directory(name, verbose=False)).glob(f"{name}*.so"))
    except Exception:  # a private helper of torch's: if it moves, only the message is lost
        return True


@functools.cache
def load():
    """The compiled module (functions ``forward``, ``backward`` and
    ``set_flush_denormal_all_threads``), or None if unavailable."""
    if os.environ.get("LSTMKIT_NO_KERNEL"):
        return None
    name = f"lstmkit_lstm_cell_{_cpu_tag()}"
    try:
        from torch.utils.cpp_extension import load as build

        if not _is_built(name):
            print("lstmkit: building the fused CPU kernel (once, about a minute)", file=sys.stderr)
        # -ffast-math lets the compiler vectorise exp and tanh through glibc's libmvec.
        # -fopenmp compiles the OpenMP regions (parallel_for's among them) against the runtime
        # torch has loaded: no OpenMP library is linked, so its symbols resolve to torch's.
        return build(
            name=name,
            sources=[str(SOURCE)],
            extra_cflags=["-O3", "-march=native", "-ffast-math", "-fopenmp"],
            extra_ldflags=["-lmvec"] if sys.platform == "linux" else [],
            verbose=False,
        )
    except Exception as err:  # no compiler, no ninja, a failed build: fall back, loudly once
        warnings.warn(
            f"lstmkit: the fused CPU kernel could not be built ({type(err).__name__}: {err}); "
            "the explicit backend runs its Python loop instead, and training flushes subnormal "
            "floats on the main thread alone",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
