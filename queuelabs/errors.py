"""The errors a learner may see: each message is one line saying what is wrong and what to do."""


class StackError(Exception):
    """Something about the services (RabbitMQ, Redis, MongoDB) the learner must do."""


class LabError(Exception):
    """A mistake in how a lab, an exercise or a process was asked for."""
