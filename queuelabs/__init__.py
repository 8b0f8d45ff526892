"""Shared plumbing for Queue Labs: the stack, the grader, the CLI."""
