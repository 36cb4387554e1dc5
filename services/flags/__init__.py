"""The feature-flag service: flags in flagd's JSON format, revisioned in SQL, served over
flagd's own protocols so the OpenFeature flagd provider works against it in RPC and in-process
mode, with an admin API, a kill switch, rollbacks and gradual rollouts.

Decisions (details in each module):

- No evaluator of our own: evaluation is openfeature-flagd-core, the engine the Python provider
  runs in process, loaded with exactly the payload the sync stream sends (`snapshot`,
  `evaluation`). Remote and in-process answers agree by construction (fractional v3 included).
- A flag set is what flagd calls a source: selectors name it (`<id>` or `source=<id>`), or pick
  flags by their metadata's `flagSetId`. Files named in FLAGS_SOURCE_FILES become flag sets
  named after them and are imported as revisions when they change (`sources`).
- Every change is a revision of its flag set holding the set's whole content, its author and
  message; a rollback writes an earlier content as a new revision. Writers take one global lock
  (the change counter's row) before reading, so concurrent writers on any number of replicas
  lose nothing, and revision numbers have no gaps (`store`).
- Validation before storing: flagd's schema and the engine's acceptance always; targeting that
  cannot evaluate (unknown operator, dangling `$ref`) is refused through the API but, as flagd
  does, only logged for files unless FLAGS_STRICT_SOURCES (`validation`).
- Replicas follow each other by polling the change counter, woken at once on PostgreSQL by
  LISTEN/NOTIFY (`change_feed`); each replica holds an immutable snapshot and wakes its streams
  on a new one (`state`, `streams`).
- The kill switch is flagd's own `state: DISABLED`: every client, remote or in-process, answers
  reason DISABLED with its code default as soon as the change reaches it.
- Rollouts move the weights of the flag's single fractional split step by step; each step is a
  revision; time is injected (`rollouts`, `split`).
- Exposures: remote evaluations are counted per flag and variant in the metrics; callers that
  evaluate in process report theirs through RecordExposures (`exposures`).
"""
