"""Task order from measured transfer: the pure part of the `bwt_order` policy (pure functions, no torch).

Omni-Thinker (arXiv 2507.14783) trains tasks one stage at a time and orders the stages by measured
backward transfer (BWT): a task that later stages would make the model forget goes late, a task whose
training damages the others goes early. Its finding, structured (verifiable) tasks before creative (judged)
ones, is what this module falls back to when nothing has been measured. The recurrence below is our
own model in the spirit of the paper's "simple assumptions on accuracy transfer"; it is not copied
from the paper's equations.

Inputs (task ids in catalog order; scores are held-out `eval/<task>/score` values):

    base[i]      s0_i, the score of task i at the common start checkpoint
    D[j][i]      score of task i after a short probe burst of training on task j from that same
                 checkpoint, minus s0_i: `transfer_matrix(base, after)`. D[j][j] is j's own gain.
    bounds[i]    (lo_i, hi_i), the range of task i's score; default (0, 1). Used to clip and normalize.

Model (`predicted_rows`, `predict`). Two assumptions:
    A1  transfer is constant: training task j moves task i != j by D[j][i], whatever came before
        (and a full stage moves it as much as the probe burst did).
    A2  a stage trains its task to saturation: right after its own stage, task i is at its saturated
        level s0_i + D[i][i], or higher if earlier stages already lifted it there; its own stage never
        lowers it.
The recurrence, with s^0 = s0 and stage k (1-based) training t = order[k - 1]:

    s^k_i = clip_i( max(s^{k-1}_i, s0_i + D[i][i]) )    if i == t   (own stage, A2)
    s^k_i = clip_i( s^{k-1}_i + D[t][i] )               if i != t   (transfer, A1)
    clip_i(x) = min(max(x, lo_i), hi_i)

and the predicted final score of task i is s^T_i (T = len(order)). Unrolled, ignoring the clip:

    final_i = max(s0_i + sum_{j before i} D[j][i], s0_i + D[i][i]) + sum_{j after i} D[j][i]

A transfer a task receives *before* its own stage is absorbed by it (unless it lifts the task above
its saturated level); one it receives *after* stays: that is backward transfer (forgetting when < 0),
and the order decides which is which. Why not the plain sum (own stage adds D[i][i] to the current
score)? Then final_i = s0_i + sum_j D[j][i] for every order, because addition commutes: the order would
matter only through the clip, and there would be nothing to choose.

Worked example: math (structured), poem (creative), s0 = {math: 0.4, poem: 0.3},
D[math] = {math: +0.4, poem: -0.3}, D[poem] = {math: -0.1, poem: +0.4}. Saturated levels: math 0.8,
poem 0.7.

    order math, poem:  stage 1 (math): math = max(0.4, 0.8) = 0.8    poem = 0.3 - 0.3 = 0.0
                       stage 2 (poem): poem = max(0.0, 0.7) = 0.7    math = 0.8 - 0.1 = 0.7
                       final {math: 0.7, poem: 0.7}, objective (0.7 + 0.7) / 2 = 0.70
    order poem, math:  stage 1 (poem): poem = max(0.3, 0.7) = 0.7    math = 0.4 - 0.1 = 0.3
                       stage 2 (math): math = max(0.3, 0.8) = 0.8    poem = 0.7 - 0.3 = 0.4
                       final {math: 0.8, poem: 0.4}, objective (0.8 + 0.4) / 2 = 0.60

so math goes first: the damage math does to poem (-0.3) is erased by poem's own later stage, while the
damage poem does to math (-0.1) stays. (The plain sum would give math 0.7, poem 0.4 for both orders.)

Objective (`objective`): the mean normalized score, mean_i (s_i - lo_i) / (hi_i - lo_i), so tasks on
different scales count equally (the paper computes BWT on normalized task metrics too). With the
default bounds it is the mean predicted score.

Search (`best_order`): every order must respect the prerequisites (a prerequisite's stage comes first).
- "exhaustive" (at most `exhaustive_limit` = 7 tasks, <= 5040 orders): predict every topological order
  of the prerequisite DAG (`nx.all_topological_sorts`) and keep the best objective.
- "greedy" (more tasks): fill the positions front to back; at each, among the tasks whose prerequisites
  are all placed, place the one whose prefix has the best *completed* objective: the prefix is predicted,
  then every task not yet placed adds its transfer to the placed tasks and reaches its own saturated
  level (transfer among the unplaced tasks is left out; it is decided later). Under the unrolled formula
  that is "place next the task that the remaining tasks will damage least". Scoring the bare prefix
  instead would reward a stage for damage done to tasks not yet trained, which their own stages erase
  (on the worked example above it would put poem first). Greedy is a heuristic: it can miss the best order.
- "fallback" (no D measured): `fallback_order`, structured before creative, catalog order within a kind.
Ties: objectives within 1e-9 of each other are equal (sums in another order differ by round-off), and
the tie goes to the order that is lexicographically first by fallback rank, position by position: with
one kind of task that is catalog order, and a matrix of zeros gives back the fallback order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import networkx as nx

from curriculum.records import TASK_KINDS

Scores = Mapping[str, float]
Transfer = Mapping[str, Mapping[str, float]]  # D[trained task][scored task]
Bounds = Mapping[str, tuple[float, float]]
Method = Literal["exhaustive", "greedy", "fallback"]

TIE = 1e-9  # objectives closer than this are a tie


@dataclass(frozen=True)
class OrderResult:
    """The chosen stage order, its predicted final scores and objective, and how it was found."""

    order: list[str]
    predicted: dict[str, float]  # empty for the fallback (nothing measured, nothing predicted)
    objective: float | None  # None for the fallback
    method: Method
    candidates_considered: int  # orders predicted (exhaustive) or prefixes scored (greedy); 0 for fallback


def transfer_matrix(base: Scores, after: Transfer) -> dict[str, dict[str, float]]:
    """D[j][i] = after[j][i] - base[i]: how a probe burst on task j moved task i from the common start.

    `after[j]` holds every task's score after the burst on j. Rows and columns follow `base`'s order.
    Raises ValueError when a row is missing or extra, or a row misses or adds a task.
    """
    tasks = list(base)
    _check_finite("base", base)
    _check_keys("after (one row per probed task)", after, tasks)
    for j in tasks:
        _check_keys(f"after[{j!r}]", after[j], tasks)
        _check_finite(f"after[{j!r}]", after[j])
    return {j: {i: float(after[j][i]) - float(base[i]) for i in tasks} for j in tasks}


def predicted_rows(
    order: Sequence[str], base: Scores, D: Transfer, bounds: Bounds | None = None
) -> list[dict[str, float]]:
    """Every task's predicted score before and after each stage: row 0 = base, row k = after stage k.

    The recurrence is in the module docstring. `order` may name only some tasks (a prefix); the others
    keep their base score moved by the transfers they receive. `[[row[t] for t in order] for row in rows]`
    is `curriculum.signals.transfer`'s R (columns in stage order), ready for `bwt` / `forgetting`.
    """
    tasks = list(base)
    _check_scores(tasks, base, D, bounds)
    if len(set(order)) != len(order) or any(t not in base for t in order):
        raise ValueError(f"order {list(order)} must name distinct tasks among {tasks}")
    return _rows(order, base, D, _bounds(tasks, bounds))


def predict(order: Sequence[str], base: Scores, D: Transfer, bounds: Bounds | None = None) -> dict[str, float]:
    """Predicted score of every task after the stages of `order` (the last row of `predicted_rows`)."""
    return predicted_rows(order, base, D, bounds)[-1]


def objective(predicted: Scores, bounds: Bounds | None = None) -> float:
    """Mean normalized score: mean_i (s_i - lo_i) / (hi_i - lo_i), bounds default (0, 1)."""
    if not predicted:
        raise ValueError("no tasks to score")
    return _objective(predicted, _bounds(list(predicted), bounds))


def fallback_order(
    tasks: Sequence[str], kinds: Mapping[str, str], requires: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """The order without measurements: structured before creative, catalog order within a kind.

    Prerequisites win: a creative task that a structured task needs (directly or through other tasks)
    is scheduled with the structured ones, at its catalog position. Raises ValueError on a bad kind,
    an unknown prerequisite or a cycle.
    """
    return _fallback(tasks, kinds, _prerequisite_graph(tasks, requires))


def best_order(
    tasks: Sequence[str],
    kinds: Mapping[str, str],
    requires: Mapping[str, Sequence[str]] | None = None,
    base: Scores | None = None,
    D: Transfer | None = None,
    *,
    bounds: Bounds | None = None,
    exhaustive_limit: int = 7,
) -> OrderResult:
    """The stage order with the best predicted objective that respects the prerequisites.

    Exhaustive over the topological orders for up to `exhaustive_limit` tasks, greedy beyond, the
    fallback order when `D` is None (see the module docstring for all three and for tie-breaking).
    """
    if not tasks:
        raise ValueError("no tasks to order")
    graph = _prerequisite_graph(tasks, requires)
    fallback = _fallback(tasks, kinds, graph)
    if D is None:
        return OrderResult(fallback, {}, None, "fallback", 0)
    if base is None:
        raise ValueError("a transfer matrix D needs the base scores it was measured from")
    _check_scores(list(tasks), base, D, bounds)
    base = {t: float(base[t]) for t in tasks}  # catalog order, whatever order the caller's dict had
    lo_hi = _bounds(list(tasks), bounds)
    rank = {t: position for position, t in enumerate(fallback)}

    if len(tasks) <= exhaustive_limit:
        best, best_key, count = fallback, (-math.inf, []), 0
        for order in nx.all_topological_sorts(graph):
            count += 1
            key = (_objective(_rows(order, base, D, lo_hi)[-1], lo_hi), [rank[t] for t in order])
            if _better(key, best_key):
                best, best_key = order, key
        predicted = _rows(best, base, D, lo_hi)[-1]
        return OrderResult(best, predicted, _objective(predicted, lo_hi), "exhaustive", count)

    placed: list[str] = []
    count = 0
    while len(placed) < len(tasks):
        ready = [t for t in fallback if t not in placed and all(p in placed for p in graph.pred[t])]
        pick, pick_score = ready[0], -math.inf
        for t in ready:  # in fallback rank, so a tie keeps the earlier task
            count += 1
            score = _objective(_completed([*placed, t], base, D, lo_hi), lo_hi)
            if score > pick_score + TIE:
                pick, pick_score = t, score
        placed.append(pick)
    predicted = _rows(placed, base, D, lo_hi)[-1]
    return OrderResult(placed, predicted, _objective(predicted, lo_hi), "greedy", count)


def _rows(order: Sequence[str], base: Scores, D: Transfer, lo_hi: dict) -> list[dict[str, float]]:
    """The recurrence of the module docstring, unchecked: row 0 = base, row k = after stage k."""
    score = {i: float(s) for i, s in base.items()}
    rows = [dict(score)]
    for t in order:
        for i in score:
            if i == t:
                score[i] = _clip(max(score[i], base[i] + D[i][i]), lo_hi[i])  # own stage: saturate (A2)
            else:
                score[i] = _clip(score[i] + D[t][i], lo_hi[i])  # transfer (A1)
        rows.append(dict(score))
    return rows


def _completed(prefix: list[str], base: Scores, D: Transfer, lo_hi: dict) -> dict[str, float]:
    """The prefix's prediction, then every unplaced task's transfer to the placed ones and its own stage."""
    score = _rows(prefix, base, D, lo_hi)[-1]
    rest = [t for t in base if t not in prefix]
    for i in prefix:
        score[i] = _clip(score[i] + sum(D[j][i] for j in rest), lo_hi[i])
    for i in rest:
        score[i] = _clip(max(score[i], base[i] + D[i][i]), lo_hi[i])
    return score


def _objective(predicted: Scores, lo_hi: dict) -> float:
    return sum((s - lo_hi[t][0]) / (lo_hi[t][1] - lo_hi[t][0]) for t, s in predicted.items()) / len(predicted)


def _better(key: tuple[float, list[int]], best: tuple[float, list[int]]) -> bool:
    """A higher objective wins; within TIE, the order that comes first by fallback rank."""
    (score, ranks), (best_score, best_ranks) = key, best
    return score > best_score + TIE or (score >= best_score - TIE and ranks < best_ranks)


def _fallback(tasks: Sequence[str], kinds: Mapping[str, str], graph: nx.DiGraph) -> list[str]:
    """Structured tasks and everything they need first, then the rest; catalog order within each group."""
    bad = [f"{t!r}: {kinds.get(t)!r}" for t in tasks if kinds.get(t) not in TASK_KINDS]
    if bad:
        raise ValueError(f"every task needs a kind, 'structured' or 'creative'; got {', '.join(bad)}")
    early = {t for t in tasks if kinds[t] == "structured"}
    early |= {p for t in list(early) for p in nx.ancestors(graph, t)}
    key = {t: (0 if t in early else 1, n) for n, t in enumerate(tasks)}
    return list(nx.lexicographical_topological_sort(graph, key=key.__getitem__))


@dataclass(frozen=True)
class PrerequisiteProblem:
    """Something wrong with the prerequisites of `task`: at position `index` of its list, or (None) a cycle."""

    task: str
    index: int | None
    message: str


def prerequisite_problems(
    tasks: Sequence[str], requires: Mapping[str, Sequence[str]]
) -> tuple[nx.DiGraph, list[PrerequisiteProblem]]:
    """The prerequisite graph (edges prerequisite -> task) and its problems: a prerequisite that is not a
    task or is the task itself, and each cycle once, reported at its first task in `tasks` order as
    `a -> b -> a` (each requires the next). The catalog check and the order search both use this."""
    problems = []
    known = ", ".join(tasks) or "none"
    graph = nx.DiGraph()
    graph.add_nodes_from(tasks)
    for task, reqs in requires.items():
        for j, req in enumerate(reqs):
            if not isinstance(req, str):
                continue  # not a task id at all: the catalog schema says so
            if req not in graph:
                problems.append(
                    PrerequisiteProblem(task, j, f"task {task!r} requires unknown task {req!r}; tasks: {known}")
                )
            elif req == task:
                problems.append(PrerequisiteProblem(task, j, f"task {task!r} requires itself"))
            elif task in graph:
                graph.add_edge(req, task)
    index = {t: n for n, t in reversed(list(enumerate(tasks)))}  # a repeated id: its first position
    for component in sorted(
        (c for c in nx.strongly_connected_components(graph) if len(c) > 1), key=lambda c: min(index[t] for t in c)
    ):
        edges = nx.find_cycle(graph.subgraph(component).reverse(), source=min(component, key=index.get))
        loop = [u for u, _ in edges]  # task -> its prerequisite -> ...; start it at its first task in the catalog
        start = loop.index(min(loop, key=index.get))
        loop = loop[start:] + loop[:start]
        message = f"prerequisite cycle: {' -> '.join([*loop, loop[0]])} (each requires the next)"
        problems.append(PrerequisiteProblem(loop[0], None, message))
    return graph, problems


def _prerequisite_graph(tasks: Sequence[str], requires: Mapping[str, Sequence[str]] | None) -> nx.DiGraph:
    """Edges prerequisite -> task; every problem (duplicate, unknown, self, cycle) in one ValueError."""
    problems = []
    if len(set(tasks)) != len(tasks):
        problems.append(f"duplicate task ids: {sorted({t for t in tasks if list(tasks).count(t) > 1})}")
    known = ", ".join(tasks) or "none"
    given = dict(requires or {})
    for task in [t for t in given if t not in set(tasks)]:
        problems.append(f"prerequisites given for unknown task {task!r}; tasks: {known}")
        del given[task]
    graph, found = prerequisite_problems(tasks, given)
    problems += [p.message for p in found]
    if problems:
        raise ValueError("; ".join(problems))
    return graph


def _check_scores(tasks: list[str], base: Scores, D: Transfer, bounds: Bounds | None) -> None:
    """base and every row of D name exactly `tasks`; all finite; base inside the bounds."""
    _check_keys("base", base, tasks)
    _check_finite("base", base)
    _check_keys("D (one row per trained task)", D, tasks)
    for j in tasks:
        _check_keys(f"D[{j!r}]", D[j], tasks)
        _check_finite(f"D[{j!r}]", D[j])
    lo_hi = _bounds(tasks, bounds)
    outside = [f"{t!r}: {base[t]} not in {list(lo_hi[t])}" for t in tasks if not lo_hi[t][0] <= base[t] <= lo_hi[t][1]]
    if outside:
        raise ValueError(f"base scores outside their bounds: {', '.join(outside)}")


def _check_keys(what: str, got: Mapping, tasks: Sequence[str]) -> None:
    missing = [t for t in tasks if t not in got]
    extra = [t for t in got if t not in set(tasks)]
    if missing or extra:
        raise ValueError(f"{what} must name exactly the tasks {list(tasks)}; missing {missing}, unknown {extra}")


def _check_finite(what: str, scores: Mapping[str, float]) -> None:
    bad = [t for t, s in scores.items() if not math.isfinite(float(s))]
    if bad:
        raise ValueError(f"{what} has non-finite scores for {bad}")


def _bounds(tasks: list[str], bounds: Bounds | None) -> dict[str, tuple[float, float]]:
    bounds = bounds or {}
    unknown = [t for t in bounds if t not in set(tasks)]
    if unknown:
        raise ValueError(f"bounds for unknown tasks {unknown}; tasks: {tasks}")
    lo_hi = {t: tuple(map(float, bounds.get(t, (0.0, 1.0)))) for t in tasks}
    bad = [t for t, (lo, hi) in lo_hi.items() if not lo < hi]
    if bad:
        raise ValueError(f"bounds must be (lo, hi) with lo < hi; bad for {bad}")
    return lo_hi  # type: ignore[return-value]


def _clip(x: float, lo_hi: tuple[float, float]) -> float:
    return min(max(x, lo_hi[0]), lo_hi[1])
