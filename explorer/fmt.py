"""Human-readable numbers, plain-text tables and user values made safe for one line, shared by the CLI and the app."""

from __future__ import annotations

import shlex

SHOWN_LIMIT = 120  # characters of one user value in a message: a 5,000-character path must not fill the screen


def printable(text: str) -> str:
    """`text` with every control or invisible format character escaped (a newline as \\n, ESC as \\x1b, a
    right-to-left override as \\u202e): a value from the user can neither split one message into several lines
    nor forge a line, recolour a terminal or reorder what is shown."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """A user value (a path, a name) as it goes into a message: printable, and shortened in the middle past
    `limit` characters (both ends stay: the start says where, the end says which file)."""
    text = printable(str(value))
    if len(text) <= limit:
        return text
    keep = max(limit - 3, 2)
    return f"{text[: keep - keep // 3]}...{text[len(text) - keep // 3 :]}"


def shell_word(value: object) -> str:
    """A value as one word of a suggested command line: quoted for the shell, then made printable."""
    return printable(shlex.quote(str(value)))


def si(n: float, unit: str = "") -> str:
    """1_538_372 -> '1.54 M'. Three significant figures are what people compare at a glance."""
    for div, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g} {prefix}{unit}"
    return f"{n:.3g} {unit}".rstrip()


def size(nbytes: float) -> str:
    for div, prefix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if nbytes >= div:
            return f"{nbytes / div:.3g} {prefix}"
    return f"{nbytes:.0f} B"


def text_table(rows: list[dict], columns: list[str], headers: list[str] | None = None) -> str:
    """Right-aligned plain-text table; ints get thousands separators, None becomes '-'."""

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    headers = headers or columns
    body = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=False))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths, strict=False)) for b in body]
    return "\n".join(lines)
