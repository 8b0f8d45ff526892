# The toy lab is data for the grader tests, not part of this suite.
collect_ignore = ["toylab"]
