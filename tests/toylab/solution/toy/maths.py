"""Toy solution with one raising region and one region with its own starter body."""


def add(a: int, b: int) -> int:
    # BEGIN EXERCISE 99.1
    return a + b
    # END EXERCISE 99.1


def greeting() -> str:
    # BEGIN EXERCISE 99.2
    return "hello"
    # STARTER
    # return "goodbye"
    # END EXERCISE 99.2
