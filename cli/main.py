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
    train_cmd,
)
from cli.errors import run_guarded

app = typer.Typer(
    name="vfxmatte",
    help="Mask-guided human instance matting for VFX plates: per-person alpha layers in EXRs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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
    train_cmd,
):
    module.register(app)


def main() -> None:
    """Console-script entry point: one-line errors and stable exit codes."""
    run_guarded(app)


if __name__ == "__main__":
    main()
