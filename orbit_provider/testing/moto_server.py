"""moto's HTTP server on a free loopback port: for what SeaweedFS lacks (archive classes,
RestoreObject)."""

from __future__ import annotations

from dataclasses import dataclass

from orbit_provider.testing.ports import free_port


@dataclass
class MotoServer:
    """A ThreadedMotoServer on 127.0.0.1; any access key and secret are accepted."""

    port: int = 0
    access_key: str = "testing"
    secret_key: str = "testing"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        self.port = self.port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def reset(self) -> None:
        """Forget every bucket and object (between tests)."""
        import urllib.request

        req = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
