"""The HTTP service (``lstmkit serve``): a FastAPI app answering JSON requests with one model.

:func:`~lstmkit.serve.app.create_app` loads the model once; :mod:`~lstmkit.serve.worker` runs
it in one thread, batching concurrent requests; :mod:`~lstmkit.serve.schemas` holds the
requests, responses and :class:`~lstmkit.serve.schemas.Limits`; :mod:`~lstmkit.serve.guard`
checks the API key and reads the body within its size and time, and
:mod:`~lstmkit.serve.protocol` times out slow request heads (:func:`server_config`). Needs the
``serve`` extra (fastapi, uvicorn).
"""

from lstmkit.serve.app import create_app
from lstmkit.serve.protocol import server_config
from lstmkit.serve.schemas import Limits

__all__ = ["Limits", "create_app", "server_config"]
