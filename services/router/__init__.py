"""The router service: providers, routing, retries, circuit breakers, cache, jobs, faults."""
