"""The SageMaker container contract, spoken directly: ``POST /invocations``, ``GET /ping``.

For testing a model container (Triton with ``--allow-sagemaker``) on its port 8080 before deploying
it. A container's error status becomes a ModelError carrying that status and body, as SageMaker
would report it.
"""

from __future__ import annotations

import urllib3
from urllib3 import exceptions as url_exc

from bench.config import EndpointSpec, TransportSpec
from bench.errors import ConfigError, ConnectionError_, TimeoutError_
from bench.transport.base import InvokeResponse
from bench.transport.translate import from_unexpected_error, model_error_from_container


class ContainerTransport:
    def __init__(self, endpoint: EndpointSpec, spec: TransportSpec, *, pool_size: int = 10) -> None:
        if not endpoint.container_url:
            raise ConfigError("container transport needs --container-url http://HOST:PORT")
        self._base = endpoint.container_url.rstrip("/")
        self._endpoint = endpoint
        self._pool = urllib3.PoolManager(
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=spec.connect_timeout_s, read=spec.read_timeout_s),
            retries=False,
        )
        self._headers: dict[str, str] = {}
        if endpoint.custom_attributes:
            self._headers["X-Amzn-SageMaker-Custom-Attributes"] = endpoint.custom_attributes
        if endpoint.target_model:
            self._headers["X-Amzn-SageMaker-Target-Model"] = endpoint.target_model

    def ping(self) -> None:
        """ConfigError unless the container answers ``GET /ping`` with 200."""
        try:
            response = self._pool.request("GET", f"{self._base}/ping", timeout=5.0)
        except (url_exc.HTTPError, ValueError) as exc:
            raise ConfigError(
                f"--container-url {self._base}: /ping failed ({exc.__class__.__name__}); is the container running?"
            ) from exc
        if response.status != 200:
            raise ConfigError(
                f"--container-url {self._base}: /ping answered {response.status}, not 200 (not ready)"
            )

    def invoke(self, body: bytes, content_type: str, inference_id: str) -> InvokeResponse:
        headers = {
            **self._headers,
            "Content-Type": content_type,
            "X-Amzn-SageMaker-Inference-Id": inference_id,
        }
        try:
            response = self._pool.request("POST", f"{self._base}/invocations", body=body, headers=headers)
        except (url_exc.ConnectTimeoutError, url_exc.ReadTimeoutError) as exc:
            raise TimeoutError_(str(exc)) from exc
        except url_exc.HTTPError as exc:
            raise ConnectionError_(str(exc)) from exc
        except Exception as exc:  # anything else is a record too, never an escape from the request path
            raise from_unexpected_error(exc) from exc
        if response.status >= 300:
            text = response.data.decode("utf-8", errors="replace")
            raise model_error_from_container(response.status, text, endpoint=self._base)
        return InvokeResponse(
            body=response.data,
            content_type=response.headers.get("Content-Type"),
            variant=None,
            http_status=response.status,
            custom_attributes=response.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
        )

    def close(self) -> None:
        self._pool.clear()
