"""Task ordering by measured transfer against numbers worked by hand (the arithmetic is in the comments).

Recurrence (curriculum/signals/ordering.py): stage k trains t; t goes to max(current, s0_t + D[t][t]) (its
saturated level), every other task i moves by D[t][i]; everything is clipped to [0, 1].
"""

import itertools

import pytest

from curriculum.signals.ordering import (
    best_order,
    fallback_order,
    objective,
    predict,
    predicted_rows,
    transfer_matrix,
)
from curriculum.signals.transfer import bwt

# The module docstring's example. Saturated levels: math 0.4 + 0.4 = 0.8, poem 0.3 + 0.4 = 0.7.
BASE2 = {"math": 0.4, "poem": 0.3}
D2 = {
    "math": {"math": +0.4, "poem": -0.3},  # training math hurts poem a lot
    "poem": {"math": -0.1, "poem": +0.4},  # training poem hurts math a little
}
KINDS2 = {"math": "structured", "poem": "creative"}

# Three structured tasks, base 0.3 and own gain +0.4 each, so every saturated level is 0.7.
BASE3 = {"a": 0.3, "b": 0.3, "c": 0.3}
D3 = {
    "a": {"a": +0.4, "b": -0.20, "c": -0.1},
    "b": {"a": -0.05, "b": +0.4, "c": +0.1},
    "c": {"a": -0.30, "b": 0.00, "c": +0.4},
}
KINDS3 = {"a": "structured", "b": "structured", "c": "structured"}
# No transfer lifts a task above 0.7 before its own stage, so final_i = 0.7 + sum_{j after i} D[j][i]:
#   order   a gets                 b gets                c gets              final (a, b, c)      mean
#   a b c   D[b][a]+D[c][a]=-0.35  D[c][b]=0             -                   (0.35, 0.70, 0.70)   1.75/3
#   a c b   D[c][a]+D[b][a]=-0.35  -                     D[b][c]=+0.1        (0.35, 0.70, 0.80)   1.85/3
#   b a c   D[c][a]=-0.30          D[a][b]+D[c][b]=-0.2  -                   (0.40, 0.50, 0.70)   1.60/3
#   b c a   -                      D[c][b]+D[a][b]=-0.2  D[a][c]=-0.1        (0.70, 0.50, 0.60)   1.80/3
#   c a b   D[b][a]=-0.05          -                     D[a][c]+D[b][c]=0   (0.65, 0.70, 0.70)   2.05/3  <- best
#   c b a   -                      D[a][b]=-0.2          D[b][c]+D[a][c]=0   (0.70, 0.50, 0.70)   1.90/3
FINALS3 = {
    ("a", "b", "c"): (0.35, 0.70, 0.70),
    ("a", "c", "b"): (0.35, 0.70, 0.80),
    ("b", "a", "c"): (0.40, 0.50, 0.70),
    ("b", "c", "a"): (0.70, 0.50, 0.60),
    ("c", "a", "b"): (0.65, 0.70, 0.70),
    ("c", "b", "a"): (0.70, 0.50, 0.70),
}


def test_transfer_matrix_subtracts_the_base():
    # D[j][i] = after[j][i] - base[i]: math burst -> math 0.8 - 0.4 = +0.4, poem 0.0 - 0.3 = -0.3
    #                                  poem burst -> math 0.3 - 0.4 = -0.1, poem 0.7 - 0.3 = +0.4
    after = {"math": {"math": 0.8, "poem": 0.0}, "poem": {"math": 0.3, "poem": 0.7}}
    D = transfer_matrix(BASE2, after)
    assert list(D) == ["math", "poem"]
    for j in D2:
        assert D[j] == pytest.approx(D2[j])


def test_transfer_matrix_checks_its_shape():
    with pytest.raises(ValueError, match=r"after \(one row per probed task\).*missing \['poem'\]"):
        transfer_matrix(BASE2, {"math": {"math": 0.8, "poem": 0.0}})
    with pytest.raises(ValueError, match=r"after\['poem'\].*missing \['math'\], unknown \['code'\]"):
        transfer_matrix(BASE2, {"math": {"math": 0.8, "poem": 0.0}, "poem": {"poem": 0.7, "code": 0.1}})
    with pytest.raises(ValueError, match="non-finite"):
        transfer_matrix(BASE2, {"math": {"math": float("nan"), "poem": 0.0}, "poem": {"math": 0.3, "poem": 0.7}})


def test_two_tasks_every_stage_by_hand():
    # math, poem: stage 1 math = max(0.4, 0.8) = 0.8, poem = 0.3 - 0.3 = 0.0
    #             stage 2 poem = max(0.0, 0.7) = 0.7, math = 0.8 - 0.1 = 0.7
    rows = predicted_rows(["math", "poem"], BASE2, D2)
    assert [list(r.values()) for r in rows] == [
        pytest.approx([0.4, 0.3]),
        pytest.approx([0.8, 0.0]),
        pytest.approx([0.7, 0.7]),
    ]
    # poem, math: stage 1 poem = max(0.3, 0.7) = 0.7, math = 0.4 - 0.1 = 0.3
    #             stage 2 math = max(0.3, 0.8) = 0.8, poem = 0.7 - 0.3 = 0.4
    assert predict(["poem", "math"], BASE2, D2) == pytest.approx({"math": 0.8, "poem": 0.4})
    assert objective(predict(["math", "poem"], BASE2, D2)) == pytest.approx(0.70)  # (0.7 + 0.7) / 2
    assert objective(predict(["poem", "math"], BASE2, D2)) == pytest.approx(0.60)  # (0.8 + 0.4) / 2


def test_two_tasks_best_order_follows_the_measurement_not_the_kind():
    result = best_order(["poem", "math"], KINDS2, {}, BASE2, D2)
    assert result.order == ["math", "poem"]
    assert result.method == "exhaustive" and result.candidates_considered == 2
    assert result.objective == pytest.approx(0.70)
    assert result.predicted == pytest.approx({"math": 0.7, "poem": 0.7})
    # Swap the damage (poem now hurts math by 0.3, math hurts poem by 0.1): poem goes first, creative or not.
    # poem, math: math = max(0.4 - 0.3, 0.8) = 0.8, poem = 0.7 - 0.1 = 0.6 -> 0.70
    # math, poem: poem = max(0.3 - 0.1, 0.7) = 0.7, math = 0.8 - 0.3 = 0.5 -> 0.60
    swapped = {"math": {"math": 0.4, "poem": -0.1}, "poem": {"math": -0.3, "poem": 0.4}}
    result = best_order(["poem", "math"], KINDS2, {}, BASE2, swapped)
    assert result.order == ["poem", "math"]
    assert result.objective == pytest.approx(0.70)


def test_predicted_rows_feed_the_bwt_metric():
    # R with columns in stage order; BWT (paper, T = 2) = R_{2,1} - R_{1,1}
    #   math first: 0.7 - 0.8 = -0.1;  poem first: 0.4 - 0.7 = -0.3 (the worse order forgets more)
    for order, expected in ((["math", "poem"], -0.1), (["poem", "math"], -0.3)):
        R = [[row[t] for t in order] for row in predicted_rows(order, BASE2, D2)]
        assert bwt(R, norm="paper") == pytest.approx(expected)


def test_the_plain_sum_would_make_order_irrelevant_but_saturation_does_not():
    # If the own stage added D[i][i] to the current score, both orders would end at
    # math 0.4 + 0.4 - 0.1 = 0.7, poem 0.3 - 0.3 + 0.4 = 0.4. Saturation separates them (0.7 vs 0.6 above).
    assert predict(["math", "poem"], BASE2, D2) != pytest.approx(predict(["poem", "math"], BASE2, D2))


@pytest.mark.parametrize("order", list(FINALS3))
def test_three_tasks_every_order_by_hand(order):
    assert list(predict(order, BASE3, D3).values()) == pytest.approx(list(FINALS3[order]))


def test_three_tasks_best_order_is_c_a_b():
    result = best_order(["a", "b", "c"], KINDS3, {}, BASE3, D3)
    assert result.order == ["c", "a", "b"]
    assert result.objective == pytest.approx(2.05 / 3)  # (0.65 + 0.70 + 0.70) / 3
    assert result.method == "exhaustive" and result.candidates_considered == 6  # 3! orders, no prerequisites


def test_prerequisites_forbid_the_otherwise_best_order():
    # c requires a: only a b c (1.75), a c b (1.85), b a c (1.60) remain; c a b (2.05) is out.
    result = best_order(["a", "b", "c"], KINDS3, {"c": ["a"]}, BASE3, D3)
    assert result.order == ["a", "c", "b"]
    assert result.objective == pytest.approx(1.85 / 3)
    assert result.candidates_considered == 3


def test_greedy_matches_exhaustive_where_it_is_optimal():
    # Greedy places next the ready task the remaining tasks will damage least (its completed objective):
    #   position 1: a would get D[b][a] + D[c][a] = -0.35, b: D[a][b] + D[c][b] = -0.2, c: D[a][c] + D[b][c] = 0 -> c
    #   position 2: a would get D[b][a] = -0.05, b: D[a][b] = -0.2 -> a;  then b.   = c a b, the exhaustive best.
    greedy = best_order(["a", "b", "c"], KINDS3, {}, BASE3, D3, exhaustive_limit=0)
    exhaustive = best_order(["a", "b", "c"], KINDS3, {}, BASE3, D3)
    assert greedy.method == "greedy" and exhaustive.method == "exhaustive"
    assert greedy.order == exhaustive.order == ["c", "a", "b"]
    assert greedy.objective == pytest.approx(exhaustive.objective)
    assert greedy.candidates_considered == 3 + 2 + 1  # ready tasks scored at each position
    # The two-task example: greedy also puts math first (0.70 vs 0.60).
    assert best_order(["poem", "math"], KINDS2, {}, BASE2, D2, exhaustive_limit=0).order == ["math", "poem"]


def test_greedy_is_a_heuristic_and_can_miss_the_best_order():
    # base 0.5, own gain +0.3 (saturated 0.8), only D[a][c] = +0.1 and D[b][c] = -0.1 off the diagonal.
    # Greedy: c's net transfer from the others is +0.1 - 0.1 = 0, so every task ties at position 1 -> a
    # (catalog), then b (c would now lose 0.1) -> a b c, all at 0.8: mean 0.8.
    # Best: b c a: c = max(0.5 - 0.1, 0.8) = 0.8, then a lifts it to 0.9: (0.8 + 0.8 + 0.9) / 3 = 0.8333.
    base = {"a": 0.5, "b": 0.5, "c": 0.5}
    D = {"a": {"a": 0.3, "b": 0.0, "c": 0.1}, "b": {"a": 0.0, "b": 0.3, "c": -0.1}, "c": {"a": 0.0, "b": 0.0, "c": 0.3}}
    greedy = best_order(["a", "b", "c"], KINDS3, {}, base, D, exhaustive_limit=0)
    exhaustive = best_order(["a", "b", "c"], KINDS3, {}, base, D)
    assert greedy.order == ["a", "b", "c"] and greedy.objective == pytest.approx(0.8)
    assert exhaustive.order == ["b", "c", "a"] and exhaustive.objective == pytest.approx(2.5 / 3)


def test_eight_tasks_use_greedy_and_respect_prerequisites():
    # t0..t5 structured, t6 t7 creative; base 0.5, own gain +0.3 (saturated 0.8); one transfer D[t7][t0] = -0.2.
    # t3 requires t0; t5 requires t7 (so t7 ranks with the structured tasks, after t5 in the catalog).
    # Rank: t0 t1 t2 t3 t4 t5 t7 | t6. t0 is worth 0.6 instead of 0.8 while t7 is still to come, so greedy
    # defers it: ready (rank order) -> pick
    #   t0 t1 t2 t4 t7 t6 -> t1 | t0 t2 t4 t7 t6 -> t2 | t0 t4 t7 t6 -> t4 | t0 t7 t6 -> t7
    #   t0 t5 t6 -> t0 (no damage left) | t3 t5 t6 -> t3 | t5 t6 -> t5 | t6 -> t6
    # scored prefixes: 6 + 5 + 4 + 3 + 3 + 3 + 2 + 1 = 27. Every task ends at 0.8 (t0 after t7): the maximum.
    tasks = [f"t{n}" for n in range(8)]
    kinds = {t: "creative" if t in ("t6", "t7") else "structured" for t in tasks}
    requires = {"t3": ["t0"], "t5": ["t7"]}
    base = {t: 0.5 for t in tasks}
    D = {j: {i: 0.3 if i == j else 0.0 for i in tasks} for j in tasks}
    D["t7"]["t0"] = -0.2
    result = best_order(tasks, kinds, requires, base, D)
    assert result.method == "greedy"
    assert result.order == ["t1", "t2", "t4", "t7", "t0", "t3", "t5", "t6"]
    position = {t: n for n, t in enumerate(result.order)}
    assert all(position[req] < position[task] for task, reqs in requires.items() for req in reqs)
    assert result.predicted == pytest.approx({t: 0.8 for t in tasks})
    assert result.objective == pytest.approx(0.8)
    assert result.candidates_considered == 27


def test_exhaustive_up_to_the_limit_greedy_past_it():
    # 3 tasks: exhaustive while 3 <= exhaustive_limit, greedy once the limit is 2
    assert best_order(["a", "b", "c"], KINDS3, {}, BASE3, D3, exhaustive_limit=3).method == "exhaustive"
    assert best_order(["a", "b", "c"], KINDS3, {}, BASE3, D3, exhaustive_limit=2).method == "greedy"
    # 7 tasks and the default limit (7): all 7! = 5040 orders are predicted
    tasks = [f"t{n}" for n in range(7)]
    D = {j: {i: 0.3 if i == j else 0.0 for i in tasks} for j in tasks}
    result = best_order(tasks, dict.fromkeys(tasks, "structured"), {}, dict.fromkeys(tasks, 0.5), D)
    assert (result.method, result.candidates_considered, result.order) == ("exhaustive", 5040, tasks)


def test_fallback_puts_structured_first_in_catalog_order():
    tasks = ["poem", "math", "story", "code"]
    kinds = {"poem": "creative", "math": "structured", "story": "creative", "code": "structured"}
    assert fallback_order(tasks, kinds) == ["math", "code", "poem", "story"]
    # code requires story: story moves up with the structured tasks (just before code); poem stays last
    assert fallback_order(tasks, kinds, {"code": ["story"]}) == ["math", "story", "code", "poem"]
    # ... and through a chain: code requires story requires poem -> both creative tasks rank as structured
    assert fallback_order(tasks, kinds, {"code": ["story"], "story": ["poem"]}) == ["poem", "math", "story", "code"]
    # without D, best_order returns the fallback and predicts nothing
    result = best_order(tasks, kinds, {"code": ["story"]})
    assert result.order == ["math", "story", "code", "poem"]
    assert (result.method, result.predicted, result.objective) == ("fallback", {}, None)
    assert result.candidates_considered == 0


def test_ties_go_to_the_fallback_rank_whatever_the_dict_order():
    # No transfer between tasks: every order ends at the saturated levels, so every order ties.
    tasks = ["poem", "math", "story", "code"]
    kinds = {"poem": "creative", "math": "structured", "story": "creative", "code": "structured"}
    base = {"code": 0.1, "story": 0.2, "math": 0.3, "poem": 0.4}  # deliberately not in catalog order
    D = {j: {i: 0.2 if i == j else 0.0 for i in reversed(tasks)} for j in reversed(tasks)}
    for limit in (7, 0):  # exhaustive and greedy
        result = best_order(tasks, kinds, {}, base, D, exhaustive_limit=limit)
        assert result.order == ["math", "code", "poem", "story"] == fallback_order(tasks, kinds)
        assert list(result.predicted) == tasks  # catalog order
        assert result.objective == pytest.approx((0.3 + 0.4 + 0.5 + 0.6) / 4)
    # one kind: the tie goes to catalog order
    same = {t: "structured" for t in tasks}
    assert best_order(tasks, same, {}, base, D).order == tasks
    assert best_order(tasks, same, {}, base, D) == best_order(tasks, same, {}, base, D)


def test_round_off_does_not_break_a_tie():
    # Symmetric transfer (D[i][j] = D[j][i]): each pair adds its transfer once whatever the order, so every
    # order ends at mean (0.8 + 0.7 + 0.7 + (-0.2 - 0.1 + 0.2)) / 3 = 2.1 / 3 = 0.7; in floating point some
    # orders come out 2e-16 higher. The tie must still go to catalog order.
    base = {"a": 0.5, "b": 0.4, "c": 0.4}
    D = {
        "a": {"a": 0.3, "b": -0.2, "c": -0.1},
        "b": {"a": -0.2, "b": 0.3, "c": 0.2},
        "c": {"a": -0.1, "b": 0.2, "c": 0.3},
    }
    objectives = {objective(predict(order, base, D)) for order in itertools.permutations("abc")}
    assert len(objectives) > 1 and max(objectives) - min(objectives) < 1e-12  # round-off, not a real difference
    assert best_order(["a", "b", "c"], KINDS3, {}, base, D).order == ["a", "b", "c"]


def test_bounds_clip_and_normalize():
    # judge score in [1, 10]: base 4, own gain +8 -> clipped at 10 -> normalized (10 - 1) / 9 = 1.0
    # math in [0, 1]: base 0.5, own gain +0.2 -> 0.7; the judge stage moves it by -0.6 -> clipped at 0.0
    # order math, judge: math 0.7 then max(0.7 - 0.6, 0) = 0.1; judge 10 -> (0.1 + 1.0) / 2 = 0.55
    base = {"math": 0.5, "judge": 4.0}
    D = {"math": {"math": 0.2, "judge": 0.0}, "judge": {"math": -0.6, "judge": 8.0}}
    bounds = {"judge": (1.0, 10.0)}
    assert predict(["judge"], base, D, bounds) == pytest.approx({"math": 0.0, "judge": 10.0})  # 0.5 - 0.6 -> 0
    final = predict(["math", "judge"], base, D, bounds)
    assert final == pytest.approx({"math": 0.1, "judge": 10.0})
    assert objective(final, bounds) == pytest.approx(0.55)
    assert objective({"math": 0.2, "poem": 0.6}) == pytest.approx(0.4)  # default bounds: the plain mean
    with pytest.raises(ValueError, match="outside their bounds"):
        predict(["math"], base, D)  # judge 4.0 is not in [0, 1]
    with pytest.raises(ValueError, match="lo < hi"):
        objective(final, {"judge": (5.0, 5.0)})


def test_prerequisite_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"prerequisite cycle: a -> b -> c -> a \(each requires the next\)"):
        fallback_order(["a", "b", "c"], KINDS3, {"c": ["a"], "a": ["b"], "b": ["c"]})
    with pytest.raises(ValueError, match="task 'a' requires unknown task 'z'; tasks: a, b, c"):
        best_order(["a", "b", "c"], KINDS3, {"a": ["z"]}, BASE3, D3)
    with pytest.raises(ValueError, match="prerequisites given for unknown task 'q'"):
        fallback_order(["a", "b", "c"], KINDS3, {"q": ["a"]})
    with pytest.raises(ValueError, match="task 'a' requires itself"):
        fallback_order(["a", "b", "c"], KINDS3, {"a": ["a"]})
    with pytest.raises(ValueError, match="duplicate task ids"):
        fallback_order(["a", "b", "a"], KINDS3)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="every task needs a kind.*'b': 'judged'"):
        fallback_order(["a", "b"], {"a": "structured", "b": "judged"})
    with pytest.raises(ValueError, match=r"D \(one row per trained task\).*missing \['c'\]"):
        best_order(["a", "b", "c"], KINDS3, {}, BASE3, {"a": D3["a"], "b": D3["b"]})
    with pytest.raises(ValueError, match="needs the base scores"):
        best_order(["a", "b", "c"], KINDS3, {}, None, D3)
    with pytest.raises(ValueError, match="no tasks"):
        best_order([], {}, {})
    with pytest.raises(ValueError, match="distinct tasks"):
        predict(["a", "a"], BASE3, D3)
