"""The fault suite: `make chaos LAB=04` (or 02) runs a lab's reference under real faults.

Each row causes one fault for real, on the native stack, while tasks flow,
then counts what the system did with every task it ACCEPTED (a 202):
succeeded, dead-lettered (lab 04's dead-letter queue), lost (neither: still
pending for ever, or failed with nobody to replay it), and duplicated effects
(a charge or a stored result made twice, or one order that became two tasks).
Everything runs in its own corner: RabbitMQ vhost `queuelabs-chaos`, Redis
database 13, MongoDB database `queuelabs_chaos`.

The package: `system.py` runs one lab's reference as processes and counts what
happened to its tasks; `rows.py` has one function per row of the table;
`suite.py` runs the rows and prints the table (`python -m queuelabs.chaos 04`).
"""
