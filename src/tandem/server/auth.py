"""Who may call the HTTP API: a shared token, or a JWT with the reference's roles.

* ``--auth-token T``: the request carries ``?token=T`` (as the reference) or, so the secret
  need not appear in URLs and access logs, ``Authorization: Bearer T``.
* ``--jwt-secret S``: the request carries ``Authorization: Bearer <jwt>`` whose payload holds
  ``{"user": {"username": ..., "role": "admin" | "user"}}``. ``admin`` may call everything;
  any other role only endpoints whose ``conversation_id`` equals its ``username``.
* Either is accepted when both are configured; with neither, the API is open.

JWTs are verified with PyJWT (the reference's tokens are standard JWS; PyJWT checks the
signature with the configured algorithm and the ``exp``/``nbf`` claims when present). We only
verify tokens, never issue them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web

from tandem.server.errors import ApiError

DEFAULT_JWT_METHOD = "HS256"


def not_authenticated() -> ApiError:
    return ApiError(401, "NotAuthenticated", "User is not authenticated.")


def not_authorized() -> ApiError:
    return ApiError(403, "NotAuthorized", "User has insufficient permissions.")


@dataclass(frozen=True)
class AuthConfig:
    token: str | None = None
    jwt_secret: str | None = None
    jwt_method: str = DEFAULT_JWT_METHOD

    def __post_init__(self) -> None:
        if self.jwt_secret:
            check_jwt_method(self.jwt_method)

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.jwt_secret)

    def check(self, request: web.Request, conversation_id: str | None) -> None:
        """Raise 401 for a missing or wrong credential, 403 for a JWT without the right."""
        if not self.enabled:
            return
        if self.token and self._token_matches(request):
            return
        bearer = _bearer(request)
        if self.jwt_secret and bearer is not None:
            payload = self._verified(bearer)
            if payload is None:
                raise not_authenticated()
            if _may_access(payload, conversation_id):
                return
            raise not_authorized()
        raise not_authenticated()

    def _token_matches(self, request: web.Request) -> bool:
        assert self.token is not None
        offered = request.query.get("token") or _bearer(request)
        return offered is not None and hmac.compare_digest(
            offered.encode("utf-8", "surrogatepass"), self.token.encode("utf-8")
        )

    def _verified(self, token: str) -> dict[str, Any] | None:
        assert self.jwt_secret is not None
        try:
            payload = jwt.decode(token, self.jwt_secret, algorithms=[self.jwt_method])
        except jwt.PyJWTError:
            return None
        return payload if isinstance(payload, dict) else None


def check_jwt_method(method: str) -> None:
    """Refuse algorithms PyJWT cannot verify here, and ``none`` (unsigned tokens)."""
    available = set(jwt.algorithms.get_default_algorithms()) - {"none"}
    if method not in available:
        raise ValueError(
            f"JWT method '{method}' is not available; use one of {', '.join(sorted(available))}"
            " (RS*, ES* and PS* need the `cryptography` package)"
        )


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _may_access(payload: dict[str, Any], conversation_id: str | None) -> bool:
    user = payload.get("user")
    if not isinstance(user, dict):
        return False
    if user.get("role") == "admin":
        return True
    username = user.get("username")
    return conversation_id is not None and isinstance(username, str) and username == conversation_id
