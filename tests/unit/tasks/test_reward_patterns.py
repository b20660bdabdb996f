"""A reward's regex is compiled when the catalog is validated (tasks.spec), so a typo is refused with the pattern
and `re`'s own message before any step runs (fixtures: broken/{regex,exact}_reward_bad_pattern.yaml)."""

import pytest
from pydantic import ValidationError

from tasks.spec import ExactReward, RegexReward


@pytest.mark.parametrize("model, kind", [(RegexReward, "regex"), (ExactReward, "exact")])
def test_a_pattern_that_does_not_compile_is_refused_with_re_s_message(model, kind):
    with pytest.raises(ValidationError) as info:
        model(kind=kind, pattern="(a|b")
    (error,) = info.value.errors()
    assert error["loc"] == ("pattern",)
    assert 'not a regular expression: "(a|b" (missing ), unterminated subpattern at position 0)' in error["msg"]


def test_answer_placeholder_is_compiled_as_the_escaped_answer_it_stands_for():
    """`{answer}+` is a quantified literal once the answer is in; `{answer}` alone is no error either."""
    assert RegexReward(kind="regex", pattern=r"^\s*{answer}+\.?$").pattern == r"^\s*{answer}+\.?$"
    assert RegexReward(kind="regex", pattern="{answer}").pattern == "{answer}"
    with pytest.raises(ValidationError, match="nothing to repeat"):
        RegexReward(kind="regex", pattern="{answer}|*")


def test_exact_without_a_pattern_is_fine():
    assert ExactReward(kind="exact").pattern is None
    assert ExactReward(kind="exact", pattern=r"=>\s*(\S+)").pattern == r"=>\s*(\S+)"
