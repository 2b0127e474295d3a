"""`python -m service.cli` is the `linli` command."""

from service.cli.main import app

app(prog_name="linli")
