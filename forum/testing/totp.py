"""An authenticator app for tests: TOTP codes of an enrolment key, as a member's phone would show them."""

from __future__ import annotations

import base64
import time

from django_otp.oath import TOTP

__all__ = ["Authenticator"]


class Authenticator:
    """An authenticator app: the codes of a key, each time step used at most once (as the server wants)."""

    def __init__(self, key: str) -> None:
        self.key = base64.b32decode(key + "=" * (-len(key) % 8))
        self.last_step = -1

    def code(self) -> str:
        totp = TOTP(self.key)
        totp.time = time.time()
        # The current step, or the next one when the current one was used: the server takes one step
        # of skew either way (and follows the app's drift), never a step at or before the last one used.
        step = max(totp.t(), self.last_step + 1)
        totp.time = step * 30 + 1
        self.last_step = step
        return f"{totp.token():06d}"

    def used_code(self) -> str:
        """The code of the last step ``code`` gave out: right, but used (a server refuses it again)."""
        assert self.last_step >= 0, "no code was given out yet"
        totp = TOTP(self.key)
        totp.time = self.last_step * 30 + 1
        return f"{totp.token():06d}"

    def wrong_code(self) -> str:
        right = {self._code_at(offset) for offset in range(-3, 4)}
        return next(code for code in ("000000", "111111", "222222") if code not in right)

    def _code_at(self, offset: int) -> str:
        totp = TOTP(self.key)
        totp.time = time.time() + offset * 30
        return f"{totp.token():06d}"
