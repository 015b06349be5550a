"""What every subcommand shares: messages, flags, output checks, number formats, progress."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from vqimage._shared.fs import temp_path

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
GLOB_CHARS = set("*?[")


def printable(text: object) -> str:
    """``text`` with control characters escaped as ``repr`` does (a newline in a file name
    becomes ``\\n``), so that one message stays one line and tables keep their rows.

    >>> printable("a\\nb.png"), printable("caf\\u00e9.png")
    ('a\\\\nb.png', 'café.png')
    """
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in s)


class CLIError(click.ClickException):
    """A failure of an input or output: one line on stderr, exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"vqimage: error: {printable(self.format_message())}", err=True)


def _meta_flag(key: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[key] = True

    return callback


def vqi_command(f: Callable[..., Any]) -> click.Command:
    """A command that reads one ``.vqi`` file, the argument ``INPUT`` (decompress, report).

    Use as the outermost decorator, in place of ``click.command``.
    """
    f = click.argument("input", type=click.Path(path_type=Path))(f)
    return click.command(context_settings=CONTEXT)(f)


def common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-q/--quiet`` and ``--debug`` on the group and on every command."""
    f = click.option("--debug", is_flag=True, expose_value=False,
                     callback=_meta_flag("vqimage.debug"),
                     help="Show tracebacks on errors.")(f)
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False,
                     callback=_meta_flag("vqimage.quiet"),
                     help="Print errors only (no progress, notes or summary).")(f)
    return f


def _flag(key: str) -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(key)) or (
        key == "vqimage.debug" and os.environ.get("VQIMAGE_DEBUG") == "1"
    )


def is_quiet() -> bool:
    return _flag("vqimage.quiet")


def is_debug() -> bool:
    return _flag("vqimage.debug")


def note(text: str) -> None:
    if not is_quiet():
        click.echo(f"vqimage: note: {printable(text)}", err=True)


def say(text: str) -> None:
    """One line on stdout (unless --quiet)."""
    if not is_quiet():
        click.echo(printable(text))


OUTPUT_EXISTS = "output exists; use --force to replace it"


def describe(exc: BaseException, path: Path | str | None = None) -> str:
    from vqimage.cli.batch import describe_error

    if isinstance(exc, FileExistsError) and exc.filename:
        # A writer that lost a race to another one: the library's advice (overwrite=True) is
        # the API's; on the command line it is --force.
        return f"{exc.filename}: {OUTPUT_EXISTS}"
    msg = describe_error(exc, known=path)
    return f"{path}: {msg}" if path is not None else msg


def show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    if not is_quiet():
        click.echo(f"vqimage: warning: {printable(message)}", err=True)


def check_output(output: Path, inputs: Sequence[Path], force: bool, *, param: str = "-o") -> None:
    """Refuse an output that is an input (usage error) or exists without --force (failure)."""
    from vqimage.cli.batch import same_file

    for src in inputs:
        if same_file(src, output):
            raise click.UsageError(f"{param} {output} is the input file; choose another output")
    if output.is_dir():
        raise CLIError(f"{output}: is a directory; give a file name")
    if not force and (output.exists() or output.is_symlink()):
        raise CLIError(f"{output}: {OUTPUT_EXISTS}")


@contextmanager
def atomic_target(output: Path, force: bool) -> Iterator[Path]:
    """A temporary path next to ``output`` that becomes ``output`` only if the block succeeds."""
    tmp = temp_path(output)
    try:
        yield tmp
        # Writers that go through mkstemp leave mode 0600: give the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if force:
            os.replace(tmp, output)
        else:
            os.link(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_db(db: float | None) -> str:
    if db is None:
        return "-"
    return "lossless" if math.isinf(db) else f"{db:.2f}"


def fmt_shape(shape: Sequence[int] | None) -> str:
    return "x".join(str(s) for s in shape) if shape else "-"


class BatchProgress:
    """A rich progress bar on stderr when it is a terminal (and not --quiet); else nothing."""

    def __init__(self, total: int, shared: bool) -> None:
        self.total, self.shared = total, shared
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> BatchProgress:
        if not is_quiet() and sys.stderr.isatty() and self.total > 0 and _has_rich():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.start()
            first = "histograms" if self.shared else "compressing"
            self.task = self.bar.add_task(first, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def histograms(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)
            if done == total:
                self.bar.update(self.task, description="compressing", completed=0,
                                total=self.total)

    def advance(self, result: Any) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description="compressing", advance=1)


@contextmanager
def report_progress() -> Iterator[Any]:
    """A progress callback ``progress(done, total, what)`` for the report, or None when piped."""
    if is_quiet() or not sys.stderr.isatty() or not _has_rich():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("report", total=None)

        def update(done: int, total: int, what: str = "report") -> None:
            bar.update(task, completed=done, total=total, description=what)

        yield update


def fmt_table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]]) -> str:
    """A plain table: a header, a rule, one line per row; ``columns`` are (title, "<" or ">").

    >>> print(fmt_table((("name", "<"), ("n", ">")), [("a", "10"), ("bb", "2")]))
    name    n
    ─────────
    a      10
    bb      2
    """
    widths = [max([len(t)] + [len(r[i]) for r in rows]) for i, (t, _) in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "   ".join(
            f"{c:{j}{w}}" for c, (_, j), w in zip(cells, columns, widths)
        ).rstrip()

    head = line([t for t, _ in columns])
    rule = "─" * (sum(widths) + 3 * (len(widths) - 1))
    return "\n".join([head, rule, *(line(r) for r in rows)])


def _has_rich() -> bool:
    # Progress bars come with the "cli" extra; without rich the commands run without them.
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def note_first_compile() -> None:
    """Say that the numba kernels are being compiled, when they are (first run only).

    Only to a person at a terminal, who would otherwise wait in silence; scripts and pipes get
    no extra line.
    """
    from vqimage._shared.jit import uncompiled_kernels

    if sys.stderr.isatty() and uncompiled_kernels():
        note("compiling kernels, first run only (about 10-20 s; cached on disk afterwards)")
