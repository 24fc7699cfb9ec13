"""The HTTP server of ``tandem run``: the HTTP API, the REST and socket.io channels."""

from tandem.server.app import create_app

__all__ = ["create_app"]
