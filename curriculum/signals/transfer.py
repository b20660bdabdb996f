"""Transfer and forgetting: continual-learning metrics over an accuracy matrix (pure functions).

The accuracy matrix `R` has one row per evaluation of *all* tasks, one column per task:

    row 0        the BASE model, before any training (GEM's b vector)
    row i >= 1   after stage i ends (stages are 1-based, so the stage number is the row index)
    column j     task j (0-based, like any Python list)

In the typical run stage i trains the i-th task, so with T tasks there are T stages and T + 1 rows, and
the paper's 1-based R_{i,j} is `rows[i][j - 1]` here: the diagonal entry "task i right after its own
stage" is `rows[i][i - 1]`. `acc`, `bwt` and `fwt` require exactly that square shape; `forgetting`,
`average_forgetting` and `intransigence` also work on a run that has finished only k < T stages.

Metrics (higher is better for ACC/BWT/FWT, lower for forgetting/intransigence):

- ACC, BWT, FWT: Lopez-Paz & Ranzato 2017, "Gradient Episodic Memory for Continual Learning", Sec. 2.
  BWT and FWT have one entry per task but one of them is undefined (the last task has no "later"; the
  first has no "before"). The paper averages over the T - 1 defined entries (`norm="paper"`); GEM's
  released code averages over all T with the undefined one set to 0 (`norm="gem_code"`), i.e. the
  paper value times (T - 1) / T. What we read, facebookresearch/GradientEpisodicMemory
  `metrics/metrics.py` (commit 19199898), `confusion_matrix`:
      bwt = result[nt - 1] - acc            # acc = result.diag(); entry nt-1 is R[T,T] - R[T,T] = 0
      fwt = torch.zeros(nt); fwt[t] = result[t - 1, t] - baseline[t] for t in 1..nt-1   # fwt[0] = 0
      stats = [fin.mean(), bwt.mean(), fwt.mean()]   # .mean() over nt = T entries
  and `baseline = result_a[0]`, which `main.py` `life_experience` evaluates before the first update.
  ACC is `fin.mean()` there too, so both normalizations agree on ACC.
- Forgetting and intransigence: Chaudhry et al. 2018, "Riemannian Walk for Incremental Learning:
  Understanding Forgetting and Intransigence", Sec. 4 (eqs. for f_j^k, F_k and I_k).

One task (T = 1) or one stage: BWT, FWT and average forgetting are undefined and return None (under
both normalizations; GEM's code would report 0.0, an artefact of its zero entries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from curriculum.records import eval_column

Norm = Literal["paper", "gem_code"]


@dataclass(frozen=True)
class AccuracyMatrix:
    """R with names: `rows[0]` is the base model, `rows[i]` the end of `stages[i - 1]`, column j `tasks[j]`."""

    tasks: list[str]
    stages: list[str]
    rows: list[list[float]]

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.stages) + 1:
            raise ValueError(
                f"{len(self.stages)} stages need {len(self.stages) + 1} rows (base first), got {len(self.rows)}"
            )
        for i, row in enumerate(self.rows):
            if len(row) != len(self.tasks):
                raise ValueError(f"row {i} has {len(row)} scores for {len(self.tasks)} tasks")


Matrix = AccuracyMatrix | Sequence[Sequence[float]]


def accuracy_matrix(
    evals: Sequence[Mapping[str, Any]],
    stage_ends: Sequence[int],
    tasks: Sequence[str],
    stages: Sequence[str] | None = None,
) -> AccuracyMatrix:
    """Build R from the run's eval rows: row 0 = the eval at step 0, row i = the eval at `stage_ends[i - 1]`.

    Each eval row is a dict with "step" and "eval/<task>/score" keys, as the run writes them. The row at
    exactly that step is used (if a step was evaluated twice, e.g. after a resume, the last row wins).
    Stage names default to "stage1", "stage2", ... Raises ValueError naming the missing step or score.
    """
    by_step = {int(row["step"]): row for row in evals}
    names = list(stages) if stages is not None else [f"stage{i}" for i in range(1, len(stage_ends) + 1)]
    if len(names) != len(stage_ends):
        raise ValueError(f"{len(names)} stage names for {len(stage_ends)} stage ends")
    rows = []
    for step in [0, *stage_ends]:
        if step not in by_step:
            known = sorted(by_step)
            raise ValueError(
                f"no eval row at step {step} (evaluated steps: {known[:20]}{' ...' if len(known) > 20 else ''})"
            )
        row = by_step[step]
        scores = []
        for task in tasks:
            value = row.get(eval_column(task, "score"))
            if value is None:
                raise ValueError(f"eval row at step {step} has no {eval_column(task, 'score')}")
            scores.append(float(value))
        rows.append(scores)
    return AccuracyMatrix(tasks=list(tasks), stages=names, rows=rows)


def _rows(R: Matrix) -> list[list[float]]:
    return [list(map(float, row)) for row in (R.rows if isinstance(R, AccuracyMatrix) else R)]


def _square(R: Matrix) -> tuple[list[list[float]], int]:
    """Rows and T, checking the typical shape: T tasks, T stages, T + 1 rows (base first)."""
    rows = _rows(R)
    T = len(rows[0]) if rows else 0
    if T == 0 or len(rows) != T + 1 or any(len(r) != T for r in rows):
        raise ValueError(f"need T + 1 rows of T scores (base row, then one per stage); got {len(rows)} rows of {T}")
    return rows, T


def _check_norm(norm: str) -> None:
    if norm not in ("paper", "gem_code"):
        raise ValueError(f"norm must be 'paper' or 'gem_code', got {norm!r}")


def acc(R: Matrix) -> float:
    """Average accuracy after the last stage: ACC = 1/T sum_{i=1}^{T} R_{T,i} (GEM eq. 2; same in its code)."""
    _square(R)
    return mean_final(R)


def mean_final(R: Matrix) -> float:
    """The mean of R's last row: ACC's sum on any R (a run that has not had every stage, a joint run)."""
    rows = _rows(R)
    return sum(rows[-1]) / len(rows[-1])


def bwt(R: Matrix, *, norm: Norm) -> float | None:
    """Backward transfer (GEM eq. 3): how training later stages changed earlier tasks (< 0 is forgetting).

    norm="paper":    BWT = 1/(T-1) sum_{i=1}^{T-1} (R_{T,i} - R_{i,i})
    norm="gem_code": the same sum over T (GEM's metrics.py: `bwt.mean()` with the undefined entry 0).
    None when T = 1.
    """
    _check_norm(norm)
    rows, T = _square(R)
    if T == 1:
        return None
    total = sum(rows[T][i - 1] - rows[i][i - 1] for i in range(1, T))  # task i is column i - 1
    return total / (T - 1 if norm == "paper" else T)


def fwt(R: Matrix, *, norm: Norm) -> float | None:
    """Forward transfer (GEM eq. 4): how earlier stages changed a task before its own stage, vs the base.

    norm="paper":    FWT = 1/(T-1) sum_{i=2}^{T} (R_{i-1,i} - b_i),  b = the base row (row 0)
    norm="gem_code": the same sum over T (GEM's metrics.py: `fwt.mean()` with fwt[0] = 0).
    None when T = 1.
    """
    _check_norm(norm)
    rows, T = _square(R)
    if T == 1:
        return None
    total = sum(rows[i - 1][i - 1] - rows[0][i - 1] for i in range(2, T + 1))  # R_{i-1,i} is rows[i-1][i-1]
    return total / (T - 1 if norm == "paper" else T)


def _stage(rows: list[list[float]], k: int | None) -> int:
    last = len(rows) - 1
    k = last if k is None else k
    if not 1 <= k <= last:
        raise ValueError(f"stage k must be in 1..{last} (rows after the base row), got {k}")
    if k > len(rows[0]):
        raise ValueError(f"stage {k} has no task of its own: only {len(rows[0])} task columns")
    return k


def forgetting(R: Matrix, k: int | None = None) -> list[float]:
    """Per-task forgetting after stage k (Chaudhry et al. 2018, Sec. 4), for the tasks of stages 1..k-1.

    f_j^k = max_{l in 1..k-1} R_{l,j} - R_{k,j}, for j = 1..k-1 (column j - 1); the base row is not a
    candidate for the max. k defaults to the last stage; the list is empty when k = 1.
    """
    rows = _rows(R)
    k = _stage(rows, k)
    return [max(rows[stage][j] for stage in range(1, k)) - rows[k][j] for j in range(k - 1)]


def joint_forgetting(R: Matrix) -> list[float]:
    """Forgetting of every task in a joint run (no stage belongs to a task): its best score at an earlier
    stage end minus its final score, f_j = max_{l in 1..K-1} R_{l,j} - R_{K,j} (our generalization of
    Chaudhry's f_j^k; the base row is not a candidate). Empty with fewer than 2 stages."""
    rows = _rows(R)
    K = len(rows) - 1
    if K < 2:
        return []
    return [max(r[j] for r in rows[1:K]) - rows[K][j] for j in range(len(rows[0]))]


def average_forgetting(R: Matrix, k: int | None = None) -> float | None:
    """F_k = 1/(k-1) sum_{j=1}^{k-1} f_j^k (Chaudhry et al. 2018, Sec. 4); None when k = 1."""
    f = forgetting(R, k)
    return sum(f) / len(f) if f else None


def intransigence(R: Matrix, reference: float, k: int | None = None) -> float:
    """I_k = a*_k - R_{k,k}: how far stage k's own task falls short of a reference (Chaudhry et al. 2018).

    `reference` is a*_k, the accuracy on task k of a reference model. Chaudhry et al. train it jointly on
    the data of tasks 1..k; training on task k alone from the base model is the cheaper stand-in (it then
    measures only the cost of the earlier stages). Task k is column k - 1; k defaults to the last stage.
    Positive = the curriculum made task k harder to learn; negative = earlier stages helped it.
    """
    rows = _rows(R)
    k = _stage(rows, k)
    return float(reference) - rows[k][k - 1]
