"""switchboard.flags.v1 messages to the service's types (flagd JSON definitions) and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.flags.v1 import flags_service_pb2 as pb

from services.flags.document import DISABLED, ENABLED, FlagDefinition
from services.flags.revision import Revision, RevisionKind
from services.flags.rollouts import Rollout, RolloutState, RolloutStep
from services.flags.snapshot import StoredSet
from services.flags.values import from_struct, from_value, normalized, to_struct, to_value

_KINDS: dict[RevisionKind, Any] = {
    kind: getattr(pb, f"REVISION_KIND_{kind.value}") for kind in RevisionKind
}
_STATES: dict[RolloutState, Any] = {
    state: getattr(pb, f"ROLLOUT_STATE_{state.value}") for state in RolloutState
}
_CHANGE_TYPES = {
    "write": pb.CHANGE_TYPE_WRITE,
    "update": pb.CHANGE_TYPE_UPDATE,
    "delete": pb.CHANGE_TYPE_DELETE,
}


def flag_definition(flag: pb.Flag) -> FlagDefinition:
    """A flagd flag definition; checked by `validation` when written."""
    definition: FlagDefinition = {
        "state": DISABLED if flag.state == pb.FLAG_STATE_DISABLED else ENABLED,
        "variants": {name: normalized(from_value(value)) for name, value in flag.variants.items()},
    }
    if flag.default_variant:
        definition["defaultVariant"] = flag.default_variant
    if flag.HasField("targeting") and flag.targeting.fields:
        definition["targeting"] = from_struct(flag.targeting)
    if flag.HasField("metadata") and flag.metadata.fields:
        definition["metadata"] = from_struct(flag.metadata)
    return definition


def flag_message(key: str, definition: Mapping[str, Any]) -> pb.Flag:
    flag = pb.Flag(
        key=key,
        state=pb.FLAG_STATE_DISABLED if definition["state"] == DISABLED else pb.FLAG_STATE_ENABLED,
        default_variant=definition.get("defaultVariant") or "",
    )
    for name, value in definition["variants"].items():
        flag.variants[name].CopyFrom(to_value(value))
    if definition.get("targeting"):
        flag.targeting.CopyFrom(to_struct(definition["targeting"]))
    if definition.get("metadata"):
        flag.metadata.CopyFrom(to_struct(definition["metadata"]))
    return flag


def flag_set_message(stored: StoredSet) -> pb.FlagSet:
    document = stored.document
    message = pb.FlagSet(
        flag_set_id=stored.id,
        flags=[flag_message(key, definition) for key, definition in document.flags.items()],
        revision=stored.revision,
        create_time=timestamp(stored.created_at),
        update_time=timestamp(stored.updated_at),
    )
    if document.evaluators:
        message.evaluators.CopyFrom(to_struct(document.evaluators))
    if document.metadata:
        message.metadata.CopyFrom(to_struct(document.metadata))
    return message


def summary_message(stored: StoredSet) -> pb.FlagSetSummary:
    return pb.FlagSetSummary(
        flag_set_id=stored.id,
        flag_count=len(stored.document.flags),
        revision=stored.revision,
        update_time=timestamp(stored.updated_at),
    )


def revision_message(revision: Revision) -> pb.Revision:
    return pb.Revision(
        revision=revision.id,
        flag_set_id=revision.flag_set_id,
        kind=_KINDS[revision.kind],
        author=revision.author,
        message=revision.message,
        create_time=timestamp(revision.created_at),
        changes=[
            pb.FlagChange(flag_key=key, type=_CHANGE_TYPES[change])
            for key, change in revision.changes.items()
        ],
    )


def steps_from(steps: Any) -> list[RolloutStep]:
    return [
        RolloutStep(
            weights=dict(step.weights), wait_seconds=step.wait.ToTimedelta().total_seconds()
        )
        for step in steps
    ]


def rollout_message(rollout: Rollout) -> pb.Rollout:
    message = pb.Rollout(
        rollout_id=rollout.id,
        flag_set_id=rollout.flag_set_id,
        flag_key=rollout.flag_key,
        steps=[
            pb.RolloutStep(weights=dict(step.weights), wait=duration(step.wait_seconds))
            for step in rollout.steps
        ],
        state=_STATES[rollout.state],
        applied_steps=rollout.applied_steps,
        author=rollout.author,
        create_time=timestamp(rollout.created_at),
        update_time=timestamp(rollout.updated_at),
        revisions=list(rollout.revisions),
        failure=rollout.failure,
    )
    if rollout.next_step_at is not None:
        message.next_step_time.CopyFrom(timestamp(rollout.next_step_at))
    if rollout.remaining_seconds is not None:
        message.remaining_wait.CopyFrom(duration(rollout.remaining_seconds))
    return message


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value)
    return message


def duration(seconds: float) -> Duration:
    message = Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


__all__ = [
    "flag_definition",
    "flag_message",
    "flag_set_message",
    "revision_message",
    "rollout_message",
    "steps_from",
    "summary_message",
    "timestamp",
]
