"""The ``ganvas`` command line.

Each subcommand lives in its own module under ``ganvas/commands`` and is added below with one line.
Every user error ends as one line on stderr (``error: ...``) and a non-zero exit status; tracebacks
are reserved for bugs in ganvas itself.
"""

from __future__ import annotations

import os
import sys
import time

import click

from ganvas.commands import (
    FullHelpGroup,
    credits,
    data,
    evaluate,
    explore,
    inspect,
    keys,
    sample,
    studio,
    train,
    translate,
    verify,
)
from ganvas.console import is_secondary_rank
from ganvas.errors import GanvasError

# torchrun stops every process as soon as one exits with an error: the others wait this long, so that
# rank 0 has printed the error they share before they go
QUIET_EXIT_DELAY_S = 1.0


@click.group(cls=FullHelpGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganvas")
def app() -> None:
    """Generative adversarial networks for creative work."""


app.add_command(train.train)
app.add_command(sample.sample)
app.add_command(data.data)
app.add_command(evaluate.evaluate)
app.add_command(inspect.models)
app.add_command(inspect.presets)
app.add_command(inspect.config)
app.add_command(translate.translate)
app.add_command(explore.explore)
app.add_command(studio.studio)
app.add_command(keys.keys)
app.add_command(verify.verify)
app.add_command(credits.credits)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn user errors into one line and an exit status."""
    # Idle OpenMP threads sleep instead of spinning: with another busy process on the machine,
    # spinning threads ran 3× slower (bench/train_throughput.py measures both settings).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        result = app.main(args=argv, prog_name="ganvas", standalone_mode=False)
        return int(result or 0)
    except click.exceptions.UsageError as exc:
        print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        return 2
    except click.exceptions.ClickException as exc:
        print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        if not is_secondary_rank():     # under torchrun every process gets the interrupt
            print("error: interrupted (the last checkpoint is intact; add --resume to continue)", file=sys.stderr)
        return 130
    except GanvasError as exc:
        if getattr(exc, "quiet", False):    # every rank of a torchrun run met it; rank 0 prints it
            time.sleep(QUIET_EXIT_DELAY_S)
            return 1
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
