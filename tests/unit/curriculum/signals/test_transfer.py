"""Transfer and forgetting metrics against numbers worked by hand (the arithmetic is in the comments)."""

import pytest

from curriculum.signals.transfer import (
    AccuracyMatrix,
    acc,
    accuracy_matrix,
    average_forgetting,
    bwt,
    forgetting,
    fwt,
    intransigence,
    joint_forgetting,
    mean_final,
)

# Three tasks, three stages; stage i trains task i. Paper notation R_{i,j} (1-based) = R[i][j - 1].
#            task1  task2  task3
R = [
    [0.10, 0.20, 0.30],  # row 0: base model (b)
    [0.80, 0.30, 0.35],  # after stage 1 (task 1)
    [0.85, 0.90, 0.60],  # after stage 2 (task 2); task 1 still improves
    [0.50, 0.70, 0.85],  # after stage 3 (task 3)
]


def test_acc_is_mean_of_last_row():
    # ACC = (0.50 + 0.70 + 0.85) / 3 = 2.05 / 3 = 0.683333
    assert acc(R) == pytest.approx(0.683333, abs=1e-6)


def test_bwt_both_normalizations():
    # R_{3,1} - R_{1,1} = 0.50 - 0.80 = -0.30
    # R_{3,2} - R_{2,2} = 0.70 - 0.90 = -0.20      sum = -0.50
    # paper:    -0.50 / (T-1 = 2) = -0.25
    # gem_code: -0.50 / (T = 3)   = -0.166667
    assert bwt(R, norm="paper") == pytest.approx(-0.25)
    assert bwt(R, norm="gem_code") == pytest.approx(-0.166667, abs=1e-6)


def test_fwt_both_normalizations():
    # R_{1,2} - b_2 = 0.30 - 0.20 = 0.10
    # R_{2,3} - b_3 = 0.60 - 0.30 = 0.30           sum = 0.40
    # paper:    0.40 / 2 = 0.20
    # gem_code: 0.40 / 3 = 0.133333
    assert fwt(R, norm="paper") == pytest.approx(0.20)
    assert fwt(R, norm="gem_code") == pytest.approx(0.133333, abs=1e-6)


def test_gem_code_matches_metrics_py_recipe():
    # GEM metrics.py, in plain lists: result = stage rows, baseline = row 0,
    # bwt = result[T-1] - diag (last entry 0), fwt[0] = 0, fwt[t] = result[t-1][t] - baseline[t]; .mean() over T.
    result, baseline, T = R[1:], R[0], 3
    bwt_vec = [result[T - 1][t] - result[t][t] for t in range(T)]
    fwt_vec = [0.0] + [result[t - 1][t] - baseline[t] for t in range(1, T)]
    assert bwt_vec[-1] == 0.0
    assert bwt(R, norm="gem_code") == pytest.approx(sum(bwt_vec) / T)
    assert fwt(R, norm="gem_code") == pytest.approx(sum(fwt_vec) / T)


def test_forgetting_uses_the_best_earlier_stage_not_the_diagonal():
    # after stage 3: f_1 = max(R_{1,1}=0.80, R_{2,1}=0.85) - R_{3,1}=0.50 = 0.35
    #                f_2 = max(R_{1,2}=0.30, R_{2,2}=0.90) - R_{3,2}=0.70 = 0.20
    # F_3 = (0.35 + 0.20) / 2 = 0.275
    assert forgetting(R) == pytest.approx([0.35, 0.20])
    assert average_forgetting(R) == pytest.approx(0.275)
    assert average_forgetting(R, k=3) == pytest.approx(0.275)


def test_forgetting_after_stage_two_can_be_negative():
    # after stage 2: f_1 = R_{1,1} - R_{2,1} = 0.80 - 0.85 = -0.05 (task 1 improved); F_2 = -0.05
    assert forgetting(R, k=2) == pytest.approx([-0.05])
    assert average_forgetting(R, k=2) == pytest.approx(-0.05)


def test_forgetting_ignores_the_base_row():
    # base 0.9 on task 1 is not a candidate: f_1^2 = R_{1,1} - R_{2,1} = 0.6 - 0.5 = 0.1 (not 0.9 - 0.5)
    assert forgetting([[0.9, 0.5], [0.6, 0.4], [0.5, 0.7]]) == pytest.approx([0.1])


def test_forgetting_undefined_after_first_stage():
    assert forgetting(R, k=1) == []
    assert average_forgetting(R, k=1) is None


def test_intransigence():
    # I_3 = a*_3 - R_{3,3} = 0.90 - 0.85 = 0.05
    # I_2 = a*_2 - R_{2,2} = 0.80 - 0.90 = -0.10 (the curriculum beat the reference)
    assert intransigence(R, 0.90) == pytest.approx(0.05)
    assert intransigence(R, 0.80, k=2) == pytest.approx(-0.10)


def test_partial_run_forgetting_works_but_square_metrics_refuse():
    # 3 tasks, only 2 stages done: f_1^2 = 0.80 - 0.85 = -0.05; ACC/BWT/FWT need all T stages
    partial = R[:3]
    assert mean_final(partial) == pytest.approx((0.85 + 0.90 + 0.60) / 3)  # 2.35 / 3 = 0.783333
    assert average_forgetting(partial) == pytest.approx(-0.05)
    assert intransigence(partial, 1.0) == pytest.approx(0.10)  # 1.0 - R_{2,2} = 1.0 - 0.90
    with pytest.raises(ValueError, match="T \\+ 1 rows"):
        acc(partial)
    with pytest.raises(ValueError, match="T \\+ 1 rows"):
        bwt(partial, norm="paper")


def test_single_task_transfer_is_undefined():
    one = [[0.2], [0.7]]
    assert acc(one) == pytest.approx(0.7)
    for norm in ("paper", "gem_code"):
        assert bwt(one, norm=norm) is None
        assert fwt(one, norm=norm) is None
    assert average_forgetting(one) is None
    assert intransigence(one, 0.75) == pytest.approx(0.05)  # 0.75 - 0.7


def test_unknown_norm_and_bad_stage_raise():
    with pytest.raises(ValueError, match="norm"):
        bwt(R, norm="mean")
    with pytest.raises(ValueError, match="stage k"):
        forgetting(R, k=4)
    with pytest.raises(ValueError, match="stage k"):
        intransigence(R, 0.5, k=0)


def _eval(step, t1, t2, **extra):
    return {"step": step, "eval/math/score": t1, "eval/poem/score": t2, "eval/math/entropy": 1.0, **extra}


def test_accuracy_matrix_from_eval_rows():
    evals = [_eval(0, 0.1, 0.2), _eval(5, 0.4, 0.2), _eval(10, 0.8, 0.3), _eval(15, 0.7, 0.6), _eval(20, 0.6, 0.9)]
    m = accuracy_matrix(evals, stage_ends=[10, 20], tasks=["math", "poem"])
    assert m.tasks == ["math", "poem"]
    assert m.stages == ["stage1", "stage2"]
    assert m.rows == [[0.1, 0.2], [0.8, 0.3], [0.6, 0.9]]  # steps 0, 10, 20; 5 and 15 unused
    # and it feeds the metrics: BWT(paper) = R_{2,1} - R_{1,1} = 0.6 - 0.8 = -0.2; gem_code = -0.2 / 2 = -0.1
    assert bwt(m, norm="paper") == pytest.approx(-0.2)
    assert bwt(m, norm="gem_code") == pytest.approx(-0.1)
    named = accuracy_matrix(evals, [10, 20], ["poem"], stages=["sft", "rl"])
    assert named.stages == ["sft", "rl"] and named.rows == [[0.2], [0.3], [0.9]]


def test_accuracy_matrix_last_row_wins_on_a_repeated_step():
    evals = [_eval(0, 0.1, 0.2), _eval(10, 0.5, 0.5), _eval(10, 0.8, 0.3)]
    assert accuracy_matrix(evals, [10], ["math"]).rows == [[0.1], [0.8]]


def test_accuracy_matrix_names_the_missing_step_or_score():
    evals = [_eval(0, 0.1, 0.2), _eval(10, 0.8, 0.3)]
    with pytest.raises(ValueError, match="no eval row at step 12"):
        accuracy_matrix(evals, [10, 12], ["math"])
    with pytest.raises(ValueError, match="no eval row at step 0"):
        accuracy_matrix(evals[1:], [10], ["math"])
    with pytest.raises(ValueError, match="step 10 has no eval/code/score"):
        accuracy_matrix([_eval(0, 0.1, 0.2, **{"eval/code/score": 0.0}), evals[1]], [10], ["code"])


def test_accuracy_matrix_dataclass_checks_its_shape():
    with pytest.raises(ValueError, match="2 stages need 3 rows"):
        AccuracyMatrix(tasks=["a"], stages=["s1", "s2"], rows=[[0.1], [0.2]])
    with pytest.raises(ValueError, match="row 1 has 2 scores for 1 tasks"):
        AccuracyMatrix(tasks=["a"], stages=["s1"], rows=[[0.1], [0.2, 0.3]])


def test_joint_forgetting_every_task_against_earlier_stage_ends():
    # a joint run: no stage owns a task. Stage ends 1..2 are earlier, stage 3 is final:
    #   task1 max(0.80, 0.85) - 0.50 = 0.35; task2 max(0.30, 0.90) - 0.70 = 0.20; task3 max(0.35, 0.60) - 0.85 = -0.25
    assert joint_forgetting(R) == pytest.approx([0.35, 0.20, -0.25])
    assert joint_forgetting(R[:2]) == []  # one stage: nothing earlier to forget from
