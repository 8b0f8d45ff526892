#!/bin/sh
# The dev container's entry point. The labs, the checkpoints and `make` expect
# RabbitMQ, Redis and MongoDB on 127.0.0.1, as natively; in compose they are
# other containers, reached by name. socat joins each local port to its server.
set -eu
for forward in 5672:rabbitmq:5672 15672:rabbitmq:15672 6379:redis:6379 27017:mongodb:27017; do
  port=${forward%%:*}
  socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "TCP:${forward#*:}" &
done
echo "dev container: 127.0.0.1:5672, 15672, 6379 and 27017 lead to the compose servers"
wait
