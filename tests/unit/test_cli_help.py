"""Every command's --help ends with examples, and every example is a command line the parser accepts."""

import shlex

import pytest

from curriculum.cli import COMMANDS, build_parser


@pytest.mark.parametrize("name", COMMANDS)
def test_help_has_examples_the_parser_accepts(name, capsys):
    command = name.replace("_", "-")
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text
    examples = [line.strip() for line in text.split("examples:", 1)[1].splitlines() if line.strip()]
    assert examples and all(e.startswith(f"curriculum {command}") for e in examples)
    for example in examples:
        argv = shlex.split(example.split("#")[0].split(">")[0])[1:]
        args, extra = parser.parse_known_args(argv)
        assert args.command == command and all("=" in e for e in extra), example


def test_an_alias_runs_its_command_and_shows_its_examples(capsys):
    """`report` is `inspect` under its old name: same run function, same help, examples in the new name."""
    from curriculum.cli import ALIASES

    parser = build_parser()
    for command, aliases in ALIASES.items():
        for alias in aliases:
            assert parser.parse_args([alias, "x"]).run is parser.parse_args([command, "x"]).run
            with pytest.raises(SystemExit):
                parser.parse_args([alias, "--help"])
            assert f"examples:\n  curriculum {command} " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    assert "inspect (report)" in capsys.readouterr().out
