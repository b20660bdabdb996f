"""What `curriculum train` shows: a progress bar (loss, reward, mu), one line per evaluation, the probe's
transfer matrix, and the summary table at the end (`curriculum.report.summary.eval_summary`)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ContextManager, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from curriculum.records import EvalRecord, StepRecord


class LiveDisplay:
    """The run's display on a rich console (`curriculum.run.display.Display`); `bar=False` leaves out the
    progress bar (logs, CI)."""

    def __init__(self, console: Console, bar: bool = True):
        self.console, self.bar = console, bar
        self._progress: Progress | None = None
        self._task: Any = None

    def status(self, text: str) -> ContextManager:
        return self.console.status(escape(text))

    @contextmanager
    def progress(self, total: int, done: int) -> Iterator[None]:
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.console, disable=not self.bar) as progress:
            self._progress, self._task = progress, progress.add_task("train", total=total, completed=done, stats="")
            try:
                yield
            finally:
                self._progress = None

    def step(self, record: StepRecord) -> None:
        if self._progress is None:
            return
        reward = "-" if record.rollouts is None else f"{record.rollouts.reward:.2f}"
        stats = f"loss {record.loss:.3f}  reward {reward}  mu {record.mu:.2f}"
        self._progress.update(self._task, advance=1, stats=stats)

    def eval(self, record: EvalRecord) -> None:
        scores = "  ".join(f"{t} {m.score:.2f}/{m.sampled:.2f}" for t, m in record.tasks.items())
        self._out.print(f"[dim]eval @ {record.step} (greedy/sampled):[/] {escape(scores)}")

    def line(self, text: str) -> None:
        self._out.print(f"[dim]{escape(text)}[/]")

    def probe(self, probe: dict) -> None:
        render_probe(probe, self._out)

    @property
    def _out(self) -> Console:
        return self._progress.console if self._progress is not None else self.console


def render_probe(probe: dict, console: Console) -> None:
    """The bwt_order probe's transfer matrix and the chosen order."""
    ids = list(probe["base"])
    table = Table(
        title="transfer D[j -> i]: score change of task i after a probe burst on task j", title_justify="left"
    )
    table.add_column("probe on j")
    for t in ids:
        table.add_column(t, justify="right")
    table.add_row("[dim]base score[/]", *(f"{probe['base'][t]:.2f}" for t in ids))
    for j in ids:
        table.add_row(j, *(f"{probe['D'][j][t]:+.2f}" for t in ids))
    console.print(table)
    console.print(
        f"order ({probe['method']}, {probe['candidates']} candidates): [bold]{' -> '.join(probe['order'])}[/]; "
        f"predicted mean score {probe['objective']:.3f}; probe compute {probe['probe_compute_steps']} steps "
        f"in {probe['seconds']} s"
    )


def render_summary(summary: dict[str, Any], console: Console) -> None:
    """Held-out score and entropy of every task, first evaluation -> last, and the mean per task kind."""
    title = f"held-out evaluation: step {summary['first_step']} -> {summary['last_step']}"
    table = Table(title=title, title_justify="left")
    for col in ("task", "kind", "score (greedy)", "sampled (mean@k)", "entropy"):
        table.add_column(col, justify="left" if col in ("task", "kind") else "right", no_wrap=True)

    def change(pair: tuple[float, float]) -> str:
        return f"{pair[0]:.3f} -> {pair[1]:.3f}"

    for t in summary["tasks"]:
        table.add_row(t["task"], t["kind"], change(t["score"]), change(t["sampled"]), change(t["entropy"]))
    table.add_section()
    for k in summary["kinds"]:
        table.add_row(f"mean ({k['tasks']})", k["kind"], change(k["score"]), change(k["sampled"]), "")
    console.print(table)
