"""The `vfxmatte` command: a Typer app whose sub-commands each live in their own module."""

from __future__ import annotations

import typer

from cli import (
    bench_cmd,
    demo_cmd,
    eval_cmd,
    farm_cmd,
    info_cmd,
    models_cmd,
    review_cmd,
    run_cmd,
    serve_cmd,
    synth_cmd,
    train_cmd,
)
from cli.conventions import HELP_OPTIONS, build_command, guard_extras
from cli.errors import install_signal_handlers, run_guarded

app = typer.Typer(
    name="vfxmatte",
    help="Mask-guided human instance matting for VFX plates: per-person alpha layers in EXRs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings=HELP_OPTIONS,
)

for module in (
    run_cmd,
    info_cmd,
    demo_cmd,
    farm_cmd,
    serve_cmd,
    eval_cmd,
    bench_cmd,
    review_cmd,
    models_cmd,
    synth_cmd,
    train_cmd,
):
    module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors, stable exit codes, clean stop on signals.

    ``argv`` (default: the process's arguments) lets tests run a command in-process.
    """
    if argv is None:
        install_signal_handlers()
    command = build_command(app)
    run_guarded(lambda: guard_extras(command, argv))


if __name__ == "__main__":
    main()
