"""`python -m queuelabs.cli ...`, the same as the `queuelabs` command."""

from queuelabs.cli import main

main()
