"""Lab 02: a FastAPI API that hands heavy work to Celery workers through RabbitMQ."""
