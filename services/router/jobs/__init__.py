"""Async jobs: a completion submitted now, run by a worker in the background, fetched later.

The parts, each replaceable on its own:

- `model`: `Job` and `JobState`, the values everyone passes around.
- `store.JobStore`: the rows in SQL (SQLite embedded, PostgreSQL in production). It is the
  source of truth: every state change is one conditional UPDATE, so a result is written exactly
  once however many workers finish the same job.
- `queue.JobQueue`: who should work on which job next. `InProcessJobQueue` for the embedded
  mode, `redis_queue.RedisJobQueue` (a Redis Stream with one consumer group) across processes.
  Delivery is at least once; the store turns that into exactly one result.
- `worker.JobWorker`: receive, mark running, run, finish, ack, webhook; claims the deliveries
  of crashed consumers.
- `webhook`: HMAC-signed (Stripe-style) POST of a finished job, retried in the background.
- `service.JobService`: submit / get / cancel, what the gRPC servicer calls.
- `schema`: engine creation and the Alembic upgrade run at start-up.
"""
