"""Lab 04's fixtures: the flaky payment service, a worker that charges it, the API as the checkpoints use it.

The real-component fixtures (api, worker, fresh_stack...) come from the testing
package and read this lab's lab.toml. The lab's own three live in
queuelabs/testing/payments.py, which lab 05 (this lab's reference on a
cluster) imports too: `downstream`, the lab's payment service (one process for
the lab's part of the run, its ledger emptied before each test), `lab_worker`,
the plugin's worker pointed at that service, and `charges`, the API.
"""

from queuelabs.testing.payments import charges, downstream, lab_worker

__all__ = ["charges", "downstream", "lab_worker"]
