"""Errors a user can fix. The message is one sentence naming the field, line or value."""


class UserError(Exception):
    """Bad input from an admin, a CSV file or the API. Never carries a traceback to the user."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(UserError):
    exit_code = 3
