"""The one exception type that reaches users as a message rather than a traceback."""


class LukeError(Exception):
    """A problem with the user's input or environment, stated so that it names the file
    (or URI) and what is wrong with it. The CLI prints it and exits non-zero."""
