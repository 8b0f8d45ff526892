"""Scale-out: Nginx on 127.0.0.1:8080 in front of N API replicas and N workers of a lab's reference.

- nginx.py      Debian's nginx, run by the project with its own configuration
                (scale.conf.template, shared with docker compose's `scale` profile);
- replicas.py   `make scale LAB=02 API=3 WORKERS=3`: start, reshape and stop the
                replicas and nginx, each tracked by pid like `make labNN`'s processes;
- compare.py    `make scale LAB=02 COMPARE=1`: the same Locust load through nginx on
                1 and 3 API replicas and 1 and 3 workers, one table.
"""
