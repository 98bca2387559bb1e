"""A Rich progress bar that use cases can drive through a plain callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadgate.cli._common import err_console


@contextmanager
def progress_bar(label: str, *, disable: bool = False) -> Iterator[Callable[..., None]]:
    """Yield ``advance(done, total, label=None)``; the bar goes to stderr so stdout stays
    parseable, and it disappears when done."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=disable,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int, description: str | None = None) -> None:
            bar.update(task, completed=done, total=total, description=description or label)

        yield advance
