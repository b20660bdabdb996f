"""`curriculum inspect` (alias `report`): each section against numbers worked by hand, on run folders written by hand.

Two runs of made-up records (no training): a task-ordered ("staged") run whose stages are its tasks,
and a joint run (warmup/decay/valley). Sparsity uses the shipped tiny-base model with known entries
of one matrix moved by known amounts, saved as the run's final checkpoint.
"""

import io
import json
from pathlib import Path

import pytest
import torch
import yaml
from helpers import tiny_base

from curriculum.cli import main
from curriculum.report import build_report, load_run, run_report
from curriculum.run.rundir import write_table

SORT, REVERSE, WORD = "sort", "reverse", "word"


def write_run(root: Path, tasks: dict, stages: list[tuple[str, int]], evals: list[dict], steps=None, order=None):
    """A run folder: catalog.yaml, run.json, decisions (one row per step, `stages` = (name, steps)),
    steps and evals tables, and order.json if given."""
    root.mkdir(parents=True)
    catalog = {
        "name": root.name,
        "seed": 0,
        "model": {"kind": "builtin", "name": "tiny-base"},
        "tasks": [{"id": t, "kind": k} for t, k in tasks.items()],
        "schedule": {"kind": "made-up"},
    }
    (root / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False))
    (root / "run.json").write_text(json.dumps({"status": "finished", "seconds": 1.5, "base_dir": str(root)}))
    names = [name for name, count in stages for _ in range(count)]
    write_table(
        root / "decisions.parquet", [{"step": i, "stage": s, "mu": 0.5, "why": ""} for i, s in enumerate(names)]
    )
    write_table(root / "evals.parquet", evals)
    if steps is not None:
        write_table(root / "steps.parquet", steps)
    if order is not None:
        (root / "order.json").write_text(json.dumps(order))
    return root


def eval_rows(steps: list[int], **per_metric: dict[str, list[float]]) -> list[dict]:
    """eval rows from {metric: {task: [value at each step]}}."""
    rows = [{"step": s} for s in steps]
    for metric, by_task in per_metric.items():
        for task, values in by_task.items():
            for row, value in zip(rows, values):
                row[f"eval/{task}/{metric}"] = value
    return rows


# ------------------------------------------------------------------------------------- staged run
# Catalog order word, sort, reverse; the stages train sort (steps 0-1), reverse (2-3), word (4-5), so
# they end at steps 2, 4, 6. Step 3 is an extra eval: in the curves, not in R.
# R in stage order (sort, reverse, word), the matrix of tests/unit/curriculum/signals/test_transfer.py:
#   base     0.10 0.20 0.30
#   sort     0.80 0.30 0.35
#   reverse  0.85 0.90 0.60
#   word     0.50 0.70 0.85
STAGED_EVALS = eval_rows(
    [0, 2, 3, 4, 6],
    score={
        SORT: [0.10, 0.80, 0.82, 0.85, 0.50],
        REVERSE: [0.20, 0.30, 0.50, 0.90, 0.70],
        WORD: [0.30, 0.35, 0.40, 0.60, 0.85],
    },
    # the last three points (steps 3, 4, 6) lie on lines: slopes -0.2, -0.1, +0.1 per step
    entropy={SORT: [2.0, 1.8, 1.6, 1.4, 1.0], REVERSE: [1.5, 1.4, 1.3, 1.2, 1.0], WORD: [1.0, 1.0, 1.0, 1.1, 1.3]},
    unique={SORT: [0.5, 0.4, 0.4, 0.3, 0.25], REVERSE: [0.5, 0.5, 0.5, 0.5, 0.5], WORD: [0.6, 0.7, 0.7, 0.8, 0.9]},
    kl_base={SORT: [0.0, 0.1, 0.1, 0.15, 0.2], REVERSE: [0.0, 0.0, 0.05, 0.1, 0.1], WORD: [0.0, 0.0, 0.0, 0.1, 0.3]},
)
ORDER = {
    "method": "exhaustive",
    "order": [SORT, REVERSE, WORD],
    "base": {WORD: 0.3, SORT: 0.1, REVERSE: 0.2},
    "after": {},
    "D": {
        WORD: {WORD: 0.4, SORT: -0.1, REVERSE: 0.0},
        SORT: {WORD: 0.05, SORT: 0.6, REVERSE: 0.1},
        REVERSE: {WORD: 0.2, SORT: -0.05, REVERSE: 0.6},
    },
    "predicted": {WORD: 0.8, SORT: 0.6, REVERSE: 0.7},
    # catalog order (word, sort, reverse); row 0 = base, row k = after stage k
    "predicted_rows": [[0.3, 0.1, 0.2], [0.35, 0.75, 0.3], [0.55, 0.7, 0.85], [0.8, 0.6, 0.7]],
    "objective": 0.7,
    "probe_steps": 2,
    "probe_compute_steps": 6,
}


@pytest.fixture
def staged(tmp_path) -> Path:
    tasks = {WORD: "creative", SORT: "structured", REVERSE: "structured"}
    return write_run(tmp_path / "staged", tasks, [(SORT, 2), (REVERSE, 2), (WORD, 2)], STAGED_EVALS, order=ORDER)


def test_staged_run_accuracy_matrix_transfer_forgetting_intransigence(staged):
    a = run_report(load_run(staged))["accuracy"]
    assert a["tasks"] == [SORT, REVERSE, WORD]  # columns in stage order, not catalog order
    assert a["stages"] == [SORT, REVERSE, WORD] and a["steps"] == [0, 2, 4, 6]
    assert a["rows"] == [[0.10, 0.20, 0.30], [0.80, 0.30, 0.35], [0.85, 0.90, 0.60], [0.50, 0.70, 0.85]]
    assert a["square"] and a["undefined"] is None
    # ACC = (0.50 + 0.70 + 0.85) / 3 = 0.683333
    assert a["acc"] == pytest.approx(0.683333, abs=1e-6)
    # BWT: (0.50 - 0.80) + (0.70 - 0.90) = -0.50; paper / 2 = -0.25; GEM code / 3 = -0.166667
    assert a["bwt"]["paper"] == pytest.approx(-0.25)
    assert a["bwt"]["gem_code"] == pytest.approx(-0.166667, abs=1e-6)
    # FWT: (0.30 - 0.20) + (0.60 - 0.30) = 0.40; paper / 2 = 0.20; GEM code / 3 = 0.133333
    assert a["fwt"]["paper"] == pytest.approx(0.20)
    assert a["fwt"]["gem_code"] == pytest.approx(0.133333, abs=1e-6)
    # forgetting: sort max(0.80, 0.85) - 0.50 = 0.35; reverse 0.90 - 0.70 = 0.20; word (last stage) none
    assert a["forgetting"][SORT] == pytest.approx(0.35)
    assert a["forgetting"][REVERSE] == pytest.approx(0.20)
    assert a["forgetting"][WORD] is None
    assert a["average_forgetting"] == pytest.approx(0.275)
    # intransigence vs the best of the column: sort 0.85 - 0.80 = 0.05; reverse 0.90 - 0.90; word 0.85 - 0.85
    assert a["intransigence"] == pytest.approx({SORT: 0.05, REVERSE: 0.0, WORD: 0.0})


def test_staged_run_missing_last_stage_eval_leaves_bwt_undefined(tmp_path):
    evals = [row for row in STAGED_EVALS if row["step"] != 6]  # the word stage ended without an eval
    tasks = {WORD: "creative", SORT: "structured", REVERSE: "structured"}
    root = write_run(tmp_path / "partial", tasks, [(SORT, 2), (REVERSE, 2), (WORD, 2)], evals)
    a = run_report(load_run(root))["accuracy"]
    assert a["stages"] == [SORT, REVERSE] and a["tasks"] == [SORT, REVERSE, WORD]
    assert a["bwt"] == {"paper": None, "gem_code": None} and "2 of 3 tasks" in a["undefined"]
    assert "word (step 6)" in a["note"]
    # forgetting after stage 2 of task sort: 0.80 - 0.85 = -0.05 (it improved)
    assert a["forgetting"][SORT] == pytest.approx(-0.05)
    assert a["forgetting"][REVERSE] is None


def test_entropy_by_kind_and_kl(staged):
    r = run_report(load_run(staged))
    e = r["entropy"]
    by_task = {row["task"]: row for row in e["tasks"]}
    assert (by_task[SORT]["start"], by_task[SORT]["end"]) == (2.0, 1.0)
    assert by_task[SORT]["slope"] == pytest.approx(-0.2)
    assert by_task[WORD]["slope"] == pytest.approx(0.1)
    assert (by_task[SORT]["unique_start"], by_task[SORT]["unique_end"]) == (0.5, 0.25)
    kinds = {row["kind"]: row for row in e["kinds"]}
    assert list(kinds) == ["structured", "creative"]
    # structured: entropy (2.0 + 1.5) / 2 = 1.75 -> (1.0 + 1.0) / 2 = 1.0; slope (-0.2 - 0.1) / 2 = -0.15
    assert kinds["structured"]["tasks"] == 2
    assert kinds["structured"]["start"] == pytest.approx(1.75)
    assert kinds["structured"]["end"] == pytest.approx(1.0)
    assert kinds["structured"]["slope"] == pytest.approx(-0.15)
    # creative: word alone, 1.0 -> 1.3; unique 0.6 -> 0.9
    assert kinds["creative"]["end"] == pytest.approx(1.3)
    assert kinds["creative"]["unique_end"] == pytest.approx(0.9)
    assert e["planning"] is False
    # KL to base, structured end: (0.2 + 0.1) / 2 = 0.15
    kl = {row["kind"]: row for row in r["kl"]["kinds"]}
    assert kl["structured"]["end"] == pytest.approx(0.15) and kl["creative"]["end"] == pytest.approx(0.3)


def test_per_task_base_best_final_entropy_kl(staged):
    p = run_report(load_run(staged))["per_task"]
    assert (p["first_step"], p["last_step"]) == (0, 6)
    rows = {row["task"]: row for row in p["tasks"]}
    assert list(rows) == [WORD, SORT, REVERSE]  # catalog order
    # sort 0.10, 0.80, 0.82, 0.85, 0.50 at steps 0, 2, 3, 4, 6: base 0.10, best 0.85 at step 4, final 0.50
    assert (rows[SORT]["base"], rows[SORT]["best"], rows[SORT]["best_step"], rows[SORT]["final"]) == (0.1, 0.85, 4, 0.5)
    # reverse 0.20 ... 0.90 (step 4) ... 0.70; word rises to its best at the last eval, 0.85 at step 6
    assert (rows[REVERSE]["base"], rows[REVERSE]["best"], rows[REVERSE]["best_step"]) == (0.2, 0.9, 4)
    assert (rows[WORD]["best"], rows[WORD]["best_step"], rows[WORD]["final"]) == (0.85, 6, 0.85)
    # entropy 2.0 -> 1.0; unique 0.5 -> 0.25; KL 0.2 at the last eval
    assert (rows[SORT]["entropy_start"], rows[SORT]["entropy_end"]) == (2.0, 1.0)
    assert (rows[SORT]["unique_start"], rows[SORT]["unique_end"], rows[SORT]["kl_end"]) == (0.5, 0.25, 0.2)
    kinds = {row["kind"]: row for row in p["kinds"]}
    assert list(kinds) == ["structured", "creative"] and kinds["structured"]["tasks"] == 2
    # structured = sort and reverse: base (0.1 + 0.2) / 2, best (0.85 + 0.9) / 2, final (0.5 + 0.7) / 2,
    # KL (0.2 + 0.1) / 2
    structured = kinds["structured"]
    assert (structured["base"], structured["best"]) == (pytest.approx(0.15), pytest.approx(0.875))
    assert (structured["final"], structured["kl_end"]) == (pytest.approx(0.6), pytest.approx(0.15))
    assert "best_step" not in structured  # a mean of steps means nothing


def test_per_task_best_is_the_first_of_ties_and_base_needs_step_0():
    from curriculum.report.sections import per_task_section

    # scores 0.3, 0.6, 0.6 at steps 10, 20, 30: no eval at step 0 (no base); best 0.6 first reached at step 20
    evals = eval_rows([10, 20, 30], score={SORT: [0.3, 0.6, 0.6]})
    (row,) = per_task_section({SORT: "structured"}, evals)["tasks"]
    assert (row["base"], row["best"], row["best_step"], row["final"]) == (None, 0.6, 20, 0.6)
    assert row["entropy_start"] is None and row["unique_end"] is None and row["kl_end"] is None


def table_rows(text: str) -> list[list[str]]:
    """The cells of every table row of rendered text."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]


def test_inspect_shows_the_per_task_table(staged):
    from rich.console import Console

    from curriculum.views.report import render_report

    console = Console(record=True, width=140, file=io.StringIO())  # not a terminal: no colours
    render_report(build_report([staged], sparsity=False), console)
    text = console.export_text()
    rows = {tuple(r[:2]): r[2:] for r in table_rows(text) if len(r) == 8}  # the per-task table's 8 columns
    # task, kind -> base, best @step, final, entropy, unique, KL at the last eval (the numbers above)
    assert rows[(SORT, "structured")] == ["0.100", "0.850 @4", "0.500", "2.000 -> 1.000", "0.500 -> 0.250", "0.2000"]
    assert rows[(WORD, "creative")][:3] == ["0.300", "0.850 @6", "0.850"]
    assert rows[("mean (2)", "structured")][:3] == ["0.150", "0.875", "0.600"]
    assert [SORT, "structured", "-2.00e-01"] in table_rows(text)  # the entropy trend
    assert "planning entropy" not in text  # not logged


def test_inspect_shows_r_as_a_heat_table(staged):
    from rich.console import Console
    from rich.style import Style

    from curriculum.views.charts import heat_style
    from curriculum.views.report import render_report

    report = build_report([staged], sparsity=False)
    plain = Console(record=True, width=140, file=io.StringIO())  # not a terminal: no colours
    render_report(report, plain)
    text = plain.export_text()
    # R keeps its numbers: the base row in stage order sort, reverse, word; no legend without colours
    assert [r for r in table_rows(text) if r[0] == "base"][0] == ["base", "0", "0.100", "0.200", "0.300"]
    assert "colour of a score" not in text

    colour = Console(record=True, width=140, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    render_report(report, colour)
    ansi = colour.export_text(styles=True)
    # each R cell on its band's colour: sort 0.10 (band 1), 0.80 (band 5); word 0.35 (band 2, as wide as its
    # column, 5), then the legend
    for cell, value in (("0.100", 0.10), ("0.800", 0.80), ("0.350", 0.35)):
        assert Style.parse(heat_style(value)).render(cell, color_system=colour.color_system) in ansi, cell
    assert heat_style(0.10) != heat_style(0.35) != heat_style(0.80)
    assert "colour of a score" in ansi


def test_planning_entropy_beside_the_trend_when_logged(tmp_path):
    from rich.console import Console

    from curriculum.views.report import render_report

    entropy = {"entropy": {SORT: [1.0, 0.9]}, "entropy_plan": {SORT: [1.5, 2.0]}, "entropy_exec": {SORT: [0.8, 0.4]}}
    evals = eval_rows([0, 2], score={SORT: [0.5, 0.6]}, **entropy)
    root = write_run(tmp_path / "planning", {SORT: "structured"}, [("rl", 2)], evals)
    console = Console(record=True, width=120, file=io.StringIO())
    render_report(build_report([root], sparsity=False), console)
    text = console.export_text()
    assert "planning entropy" in text
    # entropy slope (0.9 - 1.0) / 2 = -0.05 per step; planning 1.5 -> 2.0, execution 0.8 -> 0.4
    assert [SORT, "structured", "-5.00e-02", "1.500 -> 2.000", "0.800 -> 0.400"] in table_rows(text)


def test_order_predicted_vs_realized(staged):
    o = run_report(load_run(staged))["order"]
    assert o["method"] == "exhaustive" and o["realized_order"] == [SORT, REVERSE, WORD]
    scores = {s["task"]: s for s in o["scores"]}
    # realized = last eval: word 0.85 - 0.8 = +0.05, sort 0.50 - 0.6 = -0.10, reverse 0.70 - 0.7 = 0
    assert scores[WORD]["diff"] == pytest.approx(0.05)
    assert scores[SORT]["diff"] == pytest.approx(-0.10)
    assert o["mean_predicted"] == pytest.approx(0.7)  # (0.8 + 0.6 + 0.7) / 3
    assert o["mean_realized"] == pytest.approx(0.683333, abs=1e-6)  # (0.85 + 0.50 + 0.70) / 3
    # D rows = probe task, columns = task, both in catalog order (word, sort, reverse)
    assert o["D"]["rows"][1] == [0.05, 0.6, 0.1]
    # predicted rows moved from catalog order to R's stage order (sort, reverse, word)
    assert o["rows"]["predicted"][1] == [0.75, 0.3, 0.35]
    assert o["rows"]["realized"][1] == [0.80, 0.30, 0.35]


# -------------------------------------------------------------------------------------- joint run
# Stages warmup (steps 0-1), decay (2-3), valley (4-5); evals at 0, 2, 4, 6.
#          sort  word
#   base   0.5   0.4
#   warmup 0.3   0.6
#   decay  0.6   0.5
#   valley 0.6   0.45


@pytest.fixture
def joint(tmp_path) -> Path:
    evals = eval_rows([0, 2, 4, 6], score={SORT: [0.5, 0.3, 0.6, 0.6], WORD: [0.4, 0.6, 0.5, 0.45]})
    # SFT loss falls; step 0 is RL only (no SFT loss)
    steps = [{"step": i, "stage": "-", "train/sft_loss": None if i == 0 else 2.0 - 0.2 * i} for i in range(6)]
    stages = [("warmup", 2), ("decay", 2), ("valley", 2)]
    return write_run(tmp_path / "joint", {SORT: "structured", WORD: "creative"}, stages, evals, steps)


def test_joint_run_has_no_bwt_and_generalized_forgetting(joint):
    r = run_report(load_run(joint))
    a = r["accuracy"]
    assert a["stages"] == ["warmup", "decay", "valley"] and a["tasks"] == [SORT, WORD]
    assert not a["staged"] and a["bwt"]["paper"] is None and a["fwt"]["gem_code"] is None
    assert "are not the tasks" in a["undefined"]
    assert a["acc"] == pytest.approx(0.525)  # (0.6 + 0.45) / 2
    # best at an earlier stage end - final: sort max(0.3, 0.6) - 0.6 = 0; word max(0.6, 0.5) - 0.45 = 0.15
    assert a["forgetting"] == pytest.approx({SORT: 0.0, WORD: 0.15})
    assert a["average_forgetting"] == pytest.approx(0.075)
    assert a["intransigence"] is None
    assert "note" in r["kl"] and r["order"] is None


def test_joint_run_phases(joint):
    p = run_report(load_run(joint))["phases"]
    assert p["sft_loss"]
    labels = {row["task"]: row["labels"] for row in p["tasks"]}
    # sort 0.5, 0.3 (< 0.5 - 0.02: shift), 0.6 (up, > 0.3 + 0.02: readapt), 0.6 (flat: stable)
    assert labels[SORT] == ["start", "shift", "readapt", "stable"]
    # word 0.4, 0.6 (up, > 0.4 + 0.02, no shift before: gain), 0.5, 0.45: best 0.6 > 0.42; 0.5 and 0.45 both
    # < 0.6 - 0.03 and the SFT loss falls over steps 2..6 (the eval before the decline to the last) -> the
    # second point of the decline is overfit
    assert labels[WORD] == ["start", "gain", "stable", "overfit"]


# ---------------------------------------------------------------------------------------- sparsity
# tiny-base: vocabulary 100, width 128, 4 layers, MLP 384, embeddings tied with the output layer:
#   embeddings 100 * 128 = 12,800; per layer q, k, v, o 4 * 128 * 128 = 65,536, MLP 3 * 128 * 384 = 147,456,
#   two norms 256 -> 213,248; 4 layers 852,992; final norm 128.  N = 12,800 + 852,992 + 128 = 865,920.
N = 865_920
Q = "model.layers.0.self_attn.q_proj"


def pick_entries(w: torch.Tensor) -> tuple[list[int], list[int]]:
    """Flat indices of q_proj entries: 20 where +1e-3 changes the bf16 value, 5 where +1e-7 changes the
    fp32 value but not the bf16 one (checked here, so the expected counts below are exact)."""
    flat = w.flatten()
    moves_bf16 = (flat + 1e-3).bfloat16() != flat.bfloat16()
    vanishes_in_bf16 = ((flat + 1e-7) != flat) & ((flat + 1e-7).bfloat16() == flat.bfloat16())
    big = moves_bf16.nonzero().flatten()[:20].tolist()
    small = [i for i in vanishes_in_bf16.nonzero().flatten().tolist() if i not in big][:5]
    assert len(big) == 20 and len(small) == 5
    return big, small


def checkpoint_run(root: Path, moves: dict[int, float]) -> Path:
    """A joint-style run whose final checkpoint is tiny-base with q_proj entries moved by `moves`."""
    evals = eval_rows([0, 2], score={SORT: [0.5, 0.6]}, entropy={SORT: [1.0, 0.9]})
    write_run(root, {SORT: "structured"}, [("rl", 2)], evals)
    model, fmt = tiny_base()
    with torch.no_grad():
        flat = model.get_submodule(Q).weight.view(-1)
        for i, delta in moves.items():
            flat[i] += delta
    model.save_pretrained(root / "checkpoints" / "step-000002" / "model")
    fmt.tokenizer.save_pretrained(root / "checkpoints" / "step-000002" / "model")
    return root


@pytest.fixture(scope="module")
def sparsity_runs(tmp_path_factory) -> tuple[Path, Path]:
    base, _ = tiny_base()
    assert sum(p.numel() for p in base.parameters()) == N
    big, small = pick_entries(base.get_submodule(Q).weight.detach())
    tmp = tmp_path_factory.mktemp("sparsity")
    # run A: 10 entries by 1e-3, 5 by 1e-7; run B: 10 entries by 1e-3, 4 of them A's
    a = checkpoint_run(tmp / "a", {**{i: 1e-3 for i in big[:10]}, **{i: 1e-7 for i in small}})
    b = checkpoint_run(tmp / "b", {i: 1e-3 for i in big[6:16]})
    return a, b


def test_sparsity_fractions_and_overlap(sparsity_runs):
    a, b = sparsity_runs
    report = build_report([a, b])
    s = report["runs"][0]["sparsity"]
    assert s["total"] == N and s["checkpoint"] == "step-000002"
    figures = {f["dtype"]: f for f in s["figures"]}
    # float32: all 15 moved, the 10 by 1e-3 beyond tol 1e-5; bfloat16: the 1e-7 moves round away
    assert figures["float32"]["changed"] == pytest.approx(15 / N, rel=1e-12)
    assert figures["float32"]["beyond_tol"] == pytest.approx(10 / N, rel=1e-12)
    assert figures["bfloat16"]["changed"] == pytest.approx(10 / N, rel=1e-12)
    assert figures["bfloat16"]["beyond_tol"] == pytest.approx(10 / N, rel=1e-12)
    top = s["modules"][0]
    assert top["module"] == Q and top["params"] == 128 * 128
    assert top["float32_changed"] == pytest.approx(15 / 16384) and top["bfloat16_changed"] == pytest.approx(10 / 16384)
    assert len(s["modules"]) == 1  # only modules that moved are listed: nothing else did
    # overlap: |A| = |B| = 10 (in both masks), 4 shared; chance 10 * 10 / N
    assert len(report["overlap"]) == 2
    for o in report["overlap"]:
        assert (o["a"], o["b"], o["overlap"], o["n"]) == (10, 10, 4, N)
        assert o["expected"] == pytest.approx(100 / N)
        assert o["jaccard"] == pytest.approx(4 / 16)  # union 10 + 10 - 4


def test_sparsity_without_checkpoint_is_a_note(joint):
    s = build_report([joint])["runs"][0]["sparsity"]
    assert s == {"note": "no checkpoint with a model/ folder"}


# --------------------------------------------------------------------------------------------- CLI


def test_cli_prints_every_section(staged, sparsity_runs, capsys):
    assert main(["inspect", str(staged), *map(str, sparsity_runs)]) == 0
    out = capsys.readouterr().out
    for title in (
        "accuracy matrix R",
        "BWT paper 1/(T-1)",
        "BWT GEM code 1/T",
        "per task: score, entropy (nats), unique, KL to base (last), step 0 -> 6",
        "entropy trend (nats)",
        "update sparsity: step-",  # the table's title (the no-checkpoint note says only "update sparsity")
        "bfloat16",
        "phases of the held-out score",
        "bwt_order probe",
        "predicted vs realized",
        "changed-set overlap: same parameters, or chance?",  # the table, not the needs-two-runs note
    ):
        assert title in out, title
    assert "no checkpoint with a model/ folder" in out  # the staged run has none


def test_cli_json_parses(joint, capsys):
    assert main(["inspect", str(joint), "--json", "--no-sparsity"]) == 0
    data = json.loads(capsys.readouterr().out)
    run = data["runs"][0]
    assert run["accuracy"]["forgetting"]["word"] == pytest.approx(0.15)
    assert run["sparsity"] == {"note": "skipped (--no-sparsity)"} and data["overlap"] == []


def test_cli_not_a_run_exits_2(tmp_path, capsys):
    (tmp_path / "catalog.yaml").write_text("name: x\n")
    assert main(["inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a run folder: no evals.parquet" in err and "Traceback" not in err
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_planned_vs_actual_mix_by_hand():
    """Task a: planned 2 + 2 SFT rows, given 2 + 3 (+25%, flagged); RL 1 + 1 planned and given (0%). Task b:
    planned 2 + 0, given 2 + 0. Step 2 was planned but not taken: it does not count."""
    from curriculum.report.sections import decisions_section, mix_section

    planned = [
        {"step": 0, "sft/a/rows": 2, "rl/a/prompts": 1, "sft/b/rows": 2},
        {"step": 1, "sft/a/rows": 2, "rl/a/prompts": 1, "sft/b/rows": 0},
        {"step": 2, "sft/a/rows": 9, "rl/a/prompts": 9, "sft/b/rows": 9},
    ]
    taken = [
        {"step": 0, "stage": "s", "mu": 0.5, "why": "first", "sft/a/rows": 2, "rl/a/prompts": 1, "sft/b/rows": 2},
        {"step": 1, "stage": "s", "mu": 0.4, "why": "boost a", "sft/a/rows": 3, "rl/a/prompts": 1, "sft/b/rows": 0},
    ]
    mix = mix_section(["a", "b"], planned, taken)
    a, b = mix["tasks"]
    assert (a["planned_sft"], a["actual_sft"], a["planned_rl"], a["actual_rl"]) == (4, 5, 2, 2)
    assert a["drift_sft"] == pytest.approx(0.25) and a["drift_rl"] == 0.0 and a["flagged"]
    assert (b["planned_sft"], b["actual_sft"], b["drift_rl"], b["flagged"]) == (2, 2, None, False)
    rows = decisions_section(taken, ["a", "b"], first=1, task="b")
    assert rows == []  # step 1 gave b nothing
    rows = decisions_section(taken, ["a", "b"], first=1)
    assert [(r["step"], r["why"], r["mix"]["a"]) for r in rows] == [(1, "boost a", (3, 1))]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 4-step run of the tiny catalog, evaluated every 2 steps."""
    from helpers import train_tiny

    root = tmp_path_factory.mktemp("tiny") / "run"
    train_tiny(root, "training.steps=4", "evaluation.every=2")
    return root


def test_report_shows_the_mix_and_lists_decisions(tiny_run, capsys):
    import polars as pl

    from curriculum.cli import main

    capsys.readouterr()
    assert main(["inspect", str(tiny_run), "--no-sparsity"]) == 0
    out = capsys.readouterr().out
    assert "planned vs actual mix over 4 steps" in out
    decisions = pl.read_parquet(tiny_run / "decisions.parquet")
    sort_rows = int(decisions["sft/sort/rows"].sum())
    assert any(
        line.split("│")[1].strip() == "sort" and f" {sort_rows} " in line for line in out.splitlines() if "│" in line
    )
    assert main(["inspect", str(tiny_run), "--decisions", "--from", "2", "--to", "2"]) == 0
    out = capsys.readouterr().out
    assert decisions["why"][2][:20] in out and "│ 3 " not in out


def test_the_report_phases_table_draws_each_tasks_curve(tiny_run, capsys):
    import polars as pl

    from curriculum.cli import main
    from curriculum.views.charts import sparkline

    capsys.readouterr()
    assert main(["inspect", str(tiny_run), "--no-sparsity"]) == 0
    out = capsys.readouterr().out
    scores = pl.read_parquet(tiny_run / "evals.parquet")["eval/sort/score"].to_list()
    assert f"│ sort │ {sparkline(scores)}" in out


def test_report_is_an_alias_of_inspect(joint, capsys):
    """`curriculum report` (the old name) runs the same command and prints the same thing."""
    assert main(["inspect", str(joint), "--json", "--no-sparsity"]) == 0
    inspected = capsys.readouterr().out
    assert main(["report", str(joint), "--json", "--no-sparsity"]) == 0
    assert capsys.readouterr().out == inspected and json.loads(inspected)["runs"][0]["run"] == str(joint)


def test_inspect_per_task_row_of_a_trained_run(tiny_run):
    """The per-task row of a real run folder: base, best and final read from evals.parquet here, by polars."""
    import polars as pl
    from rich.console import Console

    from curriculum.views.report import render_report

    evals = pl.read_parquet(tiny_run / "evals.parquet").sort("step")
    scores = evals["eval/sort/score"].to_list()
    steps = evals["step"].to_list()
    best = max(scores)
    expected = [f"{scores[0]:.3f}", f"{best:.3f} @{steps[scores.index(best)]}", f"{scores[-1]:.3f}"]
    assert steps[0] == 0  # the base model is evaluated
    console = Console(record=True, width=140, file=io.StringIO())  # wide enough that no cell wraps
    render_report(build_report([tiny_run], sparsity=False), console)
    rows = [r for r in table_rows(console.export_text()) if r[:2] == ["sort", "structured"] and len(r) == 8]
    assert len(rows) == 1 and rows[0][2:5] == expected
    kl = evals["eval/sort/kl_base"].to_list()[-1]
    assert rows[0][-1] == f"{kl:.4f}"
