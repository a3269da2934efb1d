"""Who may stop or remove a run when login is on: its owner, or an admin.

Login is optional (Streamlit's st.login, configured in .streamlit/secrets.toml; see
docs/DEPLOY.md). With it on, the dashboard names the signed-in user for each script run
(`acting_as`), every run created in that run records it as its owner, and delete/cancel
are refused to anyone but the owner and the e-mail addresses in GRADLAB_ADMINS. With login
off (the default, and the CLI: whoever has a shell owns the store) nobody is refused.
"""

from __future__ import annotations

import contextvars
import os

from core.errors import UserError

# (login on?, signed-in user) of the current script run, a Streamlit session's thread.
_USER: contextvars.ContextVar[tuple[bool, str | None]] = contextvars.ContextVar(
    "gradlab_user", default=(False, None)
)


def acting_as(user: str | None, login: bool = True) -> None:
    """Name the signed-in user for what follows in this thread (login=False: no login)."""
    _USER.set((login, user.strip().lower() if user else None))


def current() -> str | None:
    return _USER.get()[1]


def check_current(run_id: str, owner: str | None) -> None:
    """check_may_manage for whoever acts in this thread (the CLI: login off, allowed)."""
    login, user = _USER.get()
    check_may_manage(run_id, owner, user, login)


def admins() -> frozenset[str]:
    """GRADLAB_ADMINS: e-mail addresses separated by commas or spaces."""
    raw = os.environ.get("GRADLAB_ADMINS", "").replace(",", " ")
    return frozenset(a.strip().lower() for a in raw.split() if a.strip())


def may_manage(owner: str | None, user: str | None, login: bool) -> bool:
    """True when `user` may delete or cancel a run owned by `owner`."""
    if not login:
        return True
    if not user:
        return False
    user = user.lower()
    return user in admins() or (owner is not None and owner.lower() == user)


def check_may_manage(run_id: str, owner: str | None, user: str | None, login: bool) -> None:
    if not may_manage(owner, user, login):
        whose = f"belongs to {owner}" if owner else "has no owner (made before login was on)"
        raise UserError(
            f"run {run_id} {whose}: only its owner or an admin (GRADLAB_ADMINS) may "
            "delete or cancel it"
        )
