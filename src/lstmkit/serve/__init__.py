"""The HTTP service (``lstmkit serve``): a FastAPI app answering JSON requests with one model.

:func:`~lstmkit.serve.app.create_app` loads the model once; :mod:`~lstmkit.serve.worker` runs
it in one thread, batching concurrent requests; :mod:`~lstmkit.serve.schemas` holds the
requests, responses and :class:`~lstmkit.serve.schemas.Limits`. Needs the ``serve`` extra
(fastapi, uvicorn).
"""

from lstmkit.serve.app import create_app
from lstmkit.serve.schemas import Limits

__all__ = ["Limits", "create_app"]
