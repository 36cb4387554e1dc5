"""A/B experiments on chat completions: flags, evaluated per request, that pick a model or a
stored prompt's label.

The platform team names the flags that steer chat traffic in `GATEWAY_EXPERIMENT_FLAGS`
(comma-separated keys, looked up in the flag set `GATEWAY_FLAG_SELECTOR` when set). Each is an
ordinary flag of the flag service, in flagd's format, whose variants are objects:

    "chat-model": {
      "state": "ENABLED", "defaultVariant": "control",
      "variants": {"control": {"model": "gpt-4o"}, "cheaper": {"model": "gpt-4o-mini"}},
      "targeting": {"fractional": [["control", 90], ["cheaper", 10]]}
    }

For every chat completion the gateway evaluates each flag (`flagd.evaluation.v1`
`ResolveObject`, the flags at once) with the caller as context: `targetingKey` is
`<tenant>:<user>` (a user's requests land in one variant, call after call, because flagd's
`fractional` hashes the flag key with the targeting key), plus `tenant`, `user`, `apiKeyId`,
`tier` and the `model` asked for, for targeting rules. The variant's value then applies:

- `model`: the model the request is sent to, whatever it asked for;
- `prompt_label`: the label of the stored prompt the request names, unless it pinned a label
  or a version itself.

Flags are applied in the configured order; a later one wins on the same field. The variant of
each flag rides in the router's `CallContext.flag_variants` to the usage event (the cost
service reports spend, tokens and latency per variant), and every assignment counts as one
exposure (`ExposureCounter`, sent to the flag service in batches).

An experiment never fails a request: a flag service that does not answer, a flag that does not
exist or is disabled, or a value of another shape leaves the request as it was, without a
variant, and is logged. Flag evaluation has its own short deadline
(`GATEWAY_FLAG_TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2 as flagd
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2_grpc as flagd_grpc
from switchboard.flags.v1 import flags_service_pb2 as flags_pb
from switchboard.flags.v1 import flags_service_pb2_grpc as flags_grpc

from gateway.keys.model import ApiKey

log = logging.getLogger("gateway.experiments")

SELECTOR_HEADER = "flagd-selector"
MAX_EXPOSURES_PER_CALL = 1000  # the flag service's bound on one RecordExposures


class ExposureCounter:
    """Counts assignments in memory and sends them to the flag service in batches: one RPC a
    `flush_seconds`, not one per request. Counts not yet sent when a process dies are lost;
    exposures are a statistic, not a ledger."""

    def __init__(self, stub: flags_grpc.FlagsServiceStub, timeout_seconds: float = 5.0) -> None:
        self._stub = stub
        self._timeout = timeout_seconds
        self._pending: Counter[tuple[str, str]] = Counter()

    def count(self, flag_key: str, variant: str) -> None:
        self._pending[(flag_key, variant)] += 1

    async def flush(self) -> None:
        pending, self._pending = self._pending, Counter()
        items = [
            flags_pb.Exposure(flag_key=flag, variant=variant, count=count)
            for (flag, variant), count in pending.items()
        ]
        for start in range(0, len(items), MAX_EXPOSURES_PER_CALL):
            batch = items[start : start + MAX_EXPOSURES_PER_CALL]
            try:
                await self._stub.RecordExposures(
                    flags_pb.RecordExposuresRequest(exposures=batch), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as error:
                log.warning("recording exposures failed: %s", error.code().name)
                for exposure in batch:  # kept for the next flush
                    self._pending[(exposure.flag_key, exposure.variant)] += exposure.count

    async def run(self, flush_seconds: float) -> None:
        """Flushes every `flush_seconds` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(flush_seconds)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())


class Experiments:
    def __init__(
        self,
        stub: flagd_grpc.ServiceStub,
        flag_keys: Sequence[str],
        exposures: ExposureCounter,
        *,
        selector: str = "",
        timeout_seconds: float = 0.5,
    ) -> None:
        self._stub = stub
        self._flags = tuple(flag_keys)
        self._exposures = exposures
        self._metadata = ((SELECTOR_HEADER, selector),) if selector else ()
        self._timeout = timeout_seconds

    async def assign(self, body: object, key: ApiKey) -> tuple[object, dict[str, str]]:
        """The body with every experiment's choice applied, and flag key -> variant."""
        if not self._flags or not isinstance(body, Mapping):
            return body, {}
        context = caller_context(key, body.get("model"))
        answers = await asyncio.gather(*(self._resolve(flag, context) for flag in self._flags))
        changed: dict[str, Any] = dict(body)
        variants: dict[str, str] = {}
        for flag, answer in zip(self._flags, answers, strict=True):
            if answer is None:
                continue
            variant, value = answer
            changed = apply_variant(changed, value)
            variants[flag] = variant
            self._exposures.count(flag, variant)
        return changed, variants

    async def _resolve(
        self, flag: str, context: struct_pb2.Struct
    ) -> tuple[str, dict[str, Any]] | None:
        request = flagd.ResolveObjectRequest(flag_key=flag, context=context)
        try:
            reply = await self._stub.ResolveObject(
                request, timeout=self._timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as error:
            log.warning("experiment flag %s not applied: %s", flag, error.code().name)
            return None
        if not reply.variant:  # disabled, or no variant chosen: the request stays as it is
            return None
        return reply.variant, json_format.MessageToDict(reply.value)


def caller_context(key: ApiKey, model: object) -> struct_pb2.Struct:
    context = struct_pb2.Struct()
    context.update(
        {
            "targetingKey": f"{key.tenant}:{key.user}",
            "tenant": key.tenant,
            "user": key.user,
            "apiKeyId": key.id,
            "tier": key.tier,
            "model": model if isinstance(model, str) else "",
        }
    )
    return context


def apply_variant(body: dict[str, Any], value: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with a variant's `model` and `prompt_label` applied (see the module docstring)."""
    changed = dict(body)
    model = value.get("model")
    if isinstance(model, str) and model:
        changed["model"] = model
    label = value.get("prompt_label")
    prompt = changed.get("prompt")
    pinned = isinstance(prompt, Mapping) and (
        prompt.get("label") is not None or prompt.get("version") is not None
    )
    if isinstance(label, str) and label and isinstance(prompt, Mapping) and not pinned:
        changed["prompt"] = {**prompt, "label": label}
    return changed


__all__ = ["Experiments", "ExposureCounter", "apply_variant", "caller_context"]
