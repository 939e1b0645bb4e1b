"""Errors meant for people: the CLI and the UI print them as short lines, never as tracebacks."""


class UserError(Exception):
    """A mistake in what the user asked for (bad file, unknown preset, missing GPU...)."""


class DesignError(UserError):
    """A design that cannot be built. `problems` holds one line per problem, each naming the place."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
