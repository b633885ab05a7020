"""One exception type for problems a user can fix; the CLI prints it as a single line."""


class BtpError(Exception):
    """A user-facing error: bad input, unknown model, broken config. Printed as one line."""
