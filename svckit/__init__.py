"""The service kit: what every Switchboard gRPC service shares and nothing else.

- `errors`: the one error vocabulary, mapped to statuses by `interceptors`.
- `settings`: one frozen settings object per service, from prefixed environment variables.
- `server`: `create_server()` and `run()` with health, reflection, metrics, tracing, shutdown.
- `health`, `metrics`, `telemetry`, `logs`, `redaction`: the operational face.
- `testing`: serve an app on port 0 in tests.
"""
