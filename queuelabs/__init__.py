"""Shared plumbing for Queue Labs: the stack, the grader, the CLI."""

import sys

# httpx imports its own command-line client (httpx._main) whenever click, rich and pygments are
# installed, as they are here (rich draws `make demo`), and that import (pygments' table of lexers,
# rich's console) is about half of httpx's: a tenth of a second in every `make check`. Nothing here
# runs httpx's CLI, so the module is marked absent before anything imports httpx, and httpx falls
# back to the stub it has for installs without its `cli` extra. The `httpx` command, a process of
# its own, is unaffected.
sys.modules.setdefault("httpx._main", None)
