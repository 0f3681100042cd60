"""The programme's side of ``juntos-gateway demo``: the DU 095-2020 operation against a
gateway's public API, with a live progress display, a summary in the terminal and an
HTML report.

The programme is a client like any other: it knows a gateway URL, a credentials file
(the sandbox's ``var/sandbox-clients.json`` shape) and its own registers as files
(:mod:`program.registers`). Starting a sandbox gateway and the partner mocks in process
is the CLI's business (``gateway.cli.sandbox``), not the programme's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from program.client import GatewayClient, load_credentials, run
from program.i18n import BABEL_LOCALES, DEFAULT_LOCALE, N_, translations
from program.operation import Operation, Registers, Results
from program.registers import FileRegisters
from program.report import Words, steps_table, summary_table, write_html
from program.territory import Territory, load_units


def _step_line(words: Any, step: str, summary: str, figures: Mapping[str, Any]) -> str:
    """``step: summary`` in the words' language, whole numbers with thousands separators."""
    shown = {k: words.n(v) if isinstance(v, int) else v for k, v in figures.items()}
    return f"{words.step(step)}: {words(summary).format(**shown)}"


class LiveProgress:
    """One line per step: a bar when the total is known, a counter otherwise; the
    steps and their summaries in ``locale``. Written to a file or a pipe (no terminal),
    there are no bars: each step's line is printed whole when it finishes."""

    def __init__(self, console: Console, locale: str = DEFAULT_LOCALE) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description:<55}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, TaskID] = {}
        self.words = Words(locale)

    def start(self, step: str, total: int | None) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(self.words.step(step), total=total)
        else:
            self.progress.update(self.tasks[step], total=total)

    def advance(self, step: str, n: int = 1, total: int | None = None) -> None:
        if step not in self.tasks:
            self.start(step, total)
        self.progress.advance(self.tasks[step], n)

    def finish(self, step: str, summary: str, /, **figures: Any) -> None:
        if step not in self.tasks:
            self.start(step, 0)
        task = self.tasks[step]
        done = self.progress.tasks[self.progress.task_ids.index(task)].completed
        line = _step_line(self.words, step, summary, figures)
        self.progress.update(task, description=line, total=done or 1, completed=done or 1)
        if self.progress.disable:
            self.console.print(line, soft_wrap=True, highlight=False)


class QuietProgress:
    """Progress for scripts and benchmarks: one line per finished step, in ``locale``."""

    def __init__(self, echo: bool = True, locale: str = DEFAULT_LOCALE) -> None:
        self.echo = echo
        self.words = Words(locale)

    def start(self, step: str, total: int | None) -> None:
        pass

    def advance(self, step: str, n: int = 1, total: int | None = None) -> None:
        pass

    def finish(self, step: str, summary: str, /, **figures: Any) -> None:
        if self.echo:
            print(f"  {_step_line(self.words, step, summary, figures)}", flush=True)


async def play(
    url: str,
    credentials: Path,
    registers: Registers,
    progress: LiveProgress | QuietProgress,
    *,
    seed: int,
    limit: int | None,
    concurrency: int,
    as_of: date,
) -> Results:
    async with GatewayClient(url, load_credentials(credentials), concurrency) as gw:
        operation = Operation(
            gw, registers, progress, as_of=as_of, seed=seed, limit=limit, concurrency=concurrency
        )
        results = await operation.run()
    if isinstance(registers, FileRegisters):
        results.territory = Territory(load_units(), registers.places())
    return results


async def play_live(
    url: str,
    credentials: Path,
    registers: Path,
    *,
    headline: str,
    seed: int,
    limit: int | None,
    concurrency: int,
    as_of: date,
    console: Console,
    locale: str = DEFAULT_LOCALE,
) -> Results:
    """Print ``headline``, then play the operation against ``url`` with a live display
    (in ``locale``).

    ``credentials`` is a client credentials file per role (the sandbox's
    ``var/sandbox-clients.json`` shape); ``registers`` the directory holding the
    programme's ``rnh.csv`` and ``districts.csv`` (see :mod:`program.registers`)."""
    live = LiveProgress(console, locale)
    console.print(headline)
    with live.progress:
        return await play(
            url,
            credentials,
            FileRegisters.read(registers),
            live,
            seed=seed,
            limit=limit,
            concurrency=concurrency,
            as_of=as_of,
        )


def write_summary(results: Results, path: Path) -> Path:
    """Write the run's figures (:meth:`Results.summary`: every key of
    ``program.published.SUMMARY_KEYS``, the funnel, and the published figures under
    ``published``) as indented UTF-8 JSON at ``path``; parent directories are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(results.summary(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


def present(
    results: Results,
    report: Path,
    *,
    seed: int,
    faults: str | None,
    console: Console,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """The summary and the steps in the terminal, and the HTML report at ``report``, in
    ``locale`` (``es`` or ``en``); ``faults`` names the partners' fault profile in that
    language (None: no faults injected, or none this process knows of)."""
    console.print(summary_table(results, locale))
    console.print(steps_table(results, locale))
    if faults is None:
        note = translations(locale).gettext(N_("Seed {seed}.")).format(seed=seed)
    else:
        note = (
            translations(locale)
            .gettext(N_("Seed {seed}, partner faults: {faults}."))
            .format(seed=seed, faults=faults)
        )
    written = write_html(results, report, title_note=note, locale=locale)
    written_to = translations(locale).gettext(N_("Report written to {path}"))
    console.print(written_to.format(path=f"[bold]{written.resolve()}[/bold]"))


def run_demo(
    *,
    gateway_url: str,
    credentials: Path,
    registers: Path,
    report: Path,
    seed: int,
    households: int,
    concurrency: int,
    as_of: date,
    console: Console | None = None,
    locale: str = DEFAULT_LOCALE,
) -> Results:
    """Play the operation against a running gateway, for the ``households`` most recent
    newborns at most, and present the results in ``locale``."""
    console = console or Console()
    results = run(
        play_live(
            gateway_url,
            credentials,
            registers,
            headline=translations(locale)
            .gettext(
                N_("Playing DU 095-2020 against {url}: the {cap} most recent newborns at most")
            )
            .format(url=gateway_url, cap=format_decimal(households, locale=BABEL_LOCALES[locale])),
            seed=seed,
            limit=households,
            concurrency=concurrency,
            as_of=as_of,
            console=console,
            locale=locale,
        )
    )
    present(results, report, seed=seed, faults=None, console=console, locale=locale)
    return results
