"""What `curriculum train` shows: on a terminal a progress bar with a panel of the latest figures, elsewhere a
plain line every N steps; one line per evaluation, the probe's transfer matrix, and the summary table at the
end (`curriculum.report.summary.eval_summary`)."""

from __future__ import annotations

import contextlib
import time
from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Iterable, Iterator

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from curriculum.records import EvalRecord, StepRecord
from curriculum.signals.phases import detect_phases


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class _BarWithPanel(Progress):
    """A progress bar with the run's panel under it, redrawn with it."""

    def __init__(self, *columns: Any, panel: Callable[[], RenderableType], **kwargs: Any):
        self._panel = panel  # before Progress.__init__, which renders once
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield self._panel()


class LiveDisplay:
    """The run's display on a rich console (`curriculum.run.display.Display`).

    On a terminal: a progress bar with a panel under it (step, stage, mu, SFT and RL loss, tokens/s, and per
    task the last step's reward and the last evaluation). Elsewhere (a file, a pipe, CI), or with `bar=False`:
    one plain line every `every` steps and at the last, each with the same figures and the time left. Every
    evaluation gets a line either way; `quiet` keeps only messages (no step or eval lines).
    """

    def __init__(self, console: Console, bar: bool = True, every: int = 10, quiet: bool = False):
        self.console, self.quiet, self.every = console, quiet, max(1, every)
        self.bar = bar and console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._task: Any = None
        self._last: StepRecord | None = None
        self._rewards: dict[str, float] = {}  # per task, its latest step's mean reward
        self._evals: dict[str, tuple[float, float]] = {}  # per task, the latest (greedy, sampled) score
        self._history: dict[str, list[tuple[int, float]]] = {}  # per task, (step, greedy score) of every eval
        self._sft_loss: list[tuple[int, float]] = []  # (step, SFT loss) of every step that had one
        self._total, self._first, self._started = 0, 0, 0.0

    def status(self, text: str) -> ContextManager:
        return self.console.status(escape(text)) if self.console.is_terminal else contextlib.nullcontext()

    @contextmanager
    def progress(self, total: int, done: int) -> Iterator[None]:
        self._total, self._first, self._started = total, done, time.perf_counter()
        self._history, self._sft_loss, self._rewards, self._evals = {}, [], {}, {}  # one run per progress (experiments)
        if not self.bar:
            yield
            return
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with _BarWithPanel(*columns, console=self.console, panel=self._panel) as progress:
            self._progress, self._task = progress, progress.add_task("train", total=total, completed=done)
            try:
                yield
            finally:
                self._progress = None

    def step(self, record: StepRecord) -> None:
        self._last = record
        if record.sft_loss is not None:
            self._sft_loss.append((record.step, record.sft_loss))
        if record.rollouts is not None:
            self._rewards.update({t: r.reward for t, r in record.rollouts.tasks.items()})
        if self._progress is not None:
            self._progress.update(self._task, advance=1)
            return
        done = record.step + 1
        if not self.quiet and (done % self.every == 0 or done == self._total):
            self.console.print(self._line(record), highlight=False, soft_wrap=True)

    def _eta(self, done: int) -> str:
        steps = done - self._first
        if steps <= 0 or self._total <= done:
            return "0:00"
        return _duration((time.perf_counter() - self._started) / steps * (self._total - done))

    def _line(self, r: StepRecord) -> str:
        """One step as a plain line (logs): the figures of the panel."""
        rewards = "  ".join(f"{t} {v:.2f}" for t, v in self._rewards.items())
        return (
            f"step {r.step + 1}/{self._total}  {r.stage}  mu {r.mu:.2f}  loss {r.loss:.3f} (sft {_fmt(r.sft_loss)}, "
            f"rl {_fmt(r.rl_loss)})  tok/s {r.tokens_per_second:,.0f}  left {self._eta(r.step + 1)}"
            + (f"  reward: {rewards}" if rewards else "")
        )

    def _panel(self) -> RenderableType:
        r = self._last
        if r is None:
            return Text("waiting for the first step", style="dim")
        head = Text.assemble(
            ("step ", "dim"), f"{r.step + 1}/{self._total}", ("  stage ", "dim"), r.stage, ("  mu ", "dim"),
            f"{r.mu:.2f}", ("  loss ", "dim"), f"{r.loss:.3f}", ("  sft ", "dim"), _fmt(r.sft_loss), ("  rl ", "dim"),
            _fmt(r.rl_loss), ("  tok/s ", "dim"), f"{r.tokens_per_second:,.0f}",
        )  # fmt: skip
        table = Table(box=None, padding=(0, 2), show_edge=False)
        for col in ("task", "reward (last step)", "eval greedy", "eval sampled", "phase"):
            table.add_column(col, justify="left" if col == "task" else "right", style=None, header_style="dim")
        for task in dict.fromkeys([*self._evals, *self._rewards]):
            greedy, sampled = self._evals.get(task, (None, None))
            row = (_fmt(self._rewards.get(task), ".2f"), _fmt(greedy, ".2f"), _fmt(sampled, ".2f"), self.phase(task))
            table.add_row(task, *row)
        return Group(head, table)

    def phase(self, task: str) -> str:
        """The task's current phase (`curriculum.signals.phases`) from the evaluations so far, with the SFT loss."""
        history = self._history.get(task, [])
        return detect_phases(history, self._sft_loss or None)[-1] if history else "-"

    def eval(self, record: EvalRecord) -> None:
        self._evals.update({t: (m.score, m.sampled) for t, m in record.tasks.items()})
        for t, m in record.tasks.items():
            history = self._history.setdefault(t, [])
            if not history or record.step > history[-1][0]:
                history.append((record.step, m.score))
        if self.quiet:
            return
        scores = "  ".join(f"{t} {m.score:.2f}/{m.sampled:.2f} {self.phase(t)}" for t, m in record.tasks.items())
        self._out.print(f"[dim]eval @ {record.step} (greedy/sampled):[/] {escape(scores)}", soft_wrap=True)

    def line(self, text: str) -> None:
        self._out.print(f"[dim]{escape(text)}[/]", soft_wrap=True)

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
