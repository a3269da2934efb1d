"""The one exception type for errors a user can cause (bad input, bad data, unknown run)."""


class UserError(ValueError):
    """A message for a person: what went wrong and what to do about it.

    The UI shows it with ``st.error``; the CLI prints it on one line and exits 2.
    Anything else escaping is a bug in Gradient Lab, not the user's fault.
    """


class DataError(UserError):
    """Prices could not be loaded or are unusable (bad CSV, unknown ticker, too few rows)."""


class SpecError(UserError):
    """A setting is out of range or unknown."""
