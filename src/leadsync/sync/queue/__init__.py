"""The durable job queue: repository, typed jobs, targets, retry policy, circuit breaker."""
