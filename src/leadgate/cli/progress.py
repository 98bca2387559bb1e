"""A Rich progress bar that use cases can drive through a plain callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadgate.cli._common import err_console


@contextmanager
def progress_bar(label: str, *, disable: bool = False) -> Iterator[Callable[[int, int], None]]:
    """Yield ``advance(done, total)``; the bar goes to stderr so stdout stays parseable."""
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

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
