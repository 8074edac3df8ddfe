"""CLI conventions a compositor expects: -h everywhere, types as words, one line per missing extra."""

from __future__ import annotations

import re

import pytest

from cli.conventions import EXTRA_OF_MODULE, build_command, guard_extras, missing_extra
from cli.main import app

PYTHON_TYPE = re.compile(r"<(str|int|float|bool|list\[[a-z]+\]|Path)>")


def command_paths() -> list[list[str]]:
    """Every command and sub-command of the app, as argument lists."""
    paths: list[list[str]] = [[]]

    def walk(command, prefix: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(build_command(app), [])
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "vfxmatte")
def test_short_help_and_readable_types(path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "140")
    command = build_command(app)
    with pytest.raises(SystemExit) as exit_info:
        command.main(args=[*path, "-h"], prog_name="vfxmatte")
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "Usage:" in text and "-h" in text
    assert not PYTHON_TYPE.search(text), PYTHON_TYPE.search(text)


def test_run_help_names_types():
    command = build_command(app)
    run = command.commands["run"]
    kinds = {p.name: p.display_type_rich(None) for p in run.params}
    assert kinds["plate"] == "TEXT"
    assert kinds["threads"] == "INTEGER"
    assert kinds["temporal_strength"] == "FLOAT"
    assert kinds["full_frame"] is None  # a flag takes no value


def test_missing_extra_is_one_line(capsys, monkeypatch):
    """A sub-command whose optional module is absent names the extra to install (exit 3)."""
    import typer

    demo = typer.Typer(add_completion=False)

    @demo.command()
    def review() -> None:
        import PySide6_not_installed_here  # noqa: F401

    @demo.command()
    def other() -> None:
        pass

    monkeypatch.setitem(EXTRA_OF_MODULE, "PySide6_not_installed_here", "review")
    with pytest.raises(SystemExit) as exit_info:
        guard_extras(build_command(demo), ["review"])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "vfxmatte: error: vfxmatte review needs the 'review' extra "
        "(no module PySide6_not_installed_here): pip install 'vfxmatte[review]'"
    ]


def test_unrelated_missing_module_is_not_blamed_on_an_extra():
    err = ModuleNotFoundError("No module named 'left_pad'", name="left_pad")
    assert missing_extra(err) is None
    assert missing_extra(ModuleNotFoundError("x", name="PySide6.QtWidgets")) == "review"
    assert missing_extra(ModuleNotFoundError("x", name="distributed")) == "farm"


def test_colourspace_typo_suggests_the_nearest_names():
    from vfxmatte.errors import BadArgumentError
    from vfxmatte.io.colour import load_config, resolve_colorspace

    with pytest.raises(BadArgumentError) as err:
        resolve_colorspace(load_config(), "ACEScgg")
    assert "did you mean 'ACEScg'" in str(err.value)
    with pytest.raises(BadArgumentError) as err:
        resolve_colorspace(load_config(), "xyzzy")
    assert "did you mean" not in str(err.value) and "srgb, linear, log" in str(err.value)


def test_engine_typo_suggests_the_nearest_engine():
    from vfxmatte.engines import engine_class
    from vfxmatte.errors import BadArgumentError

    with pytest.raises(BadArgumentError) as err:
        engine_class("guidedd")
    assert "did you mean 'guided'?" in str(err.value)
