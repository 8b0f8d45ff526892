"""`python -m queuelabs.chaos 04`, the same as `queuelabs dev chaos 04` and `make chaos LAB=04`."""

from queuelabs.cli.dev_commands import chaos_command

chaos_command(prog_name="python -m queuelabs.chaos")
