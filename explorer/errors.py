"""Errors meant for people: the CLI and the UI print them as short lines, never as tracebacks."""


class UserError(Exception):
    """A mistake in what the user asked for (bad file, unknown preset, missing GPU...)."""

    def lines(self) -> list[str]:
        """The problems it reports, one per line: a newline inside a value never starts another one."""
        return [str(self)]


class Problems(UserError):
    """Several mistakes found at once. `problems` holds one line per problem, each naming the place."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return self.problems


class DesignError(Problems):
    """A design that cannot be built. `problems` holds one line per problem, each naming the place."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, for one-line errors (the type's name when it has none)."""
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__
