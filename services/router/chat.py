"""Chat completions as plain typed values, in OpenAI's shape.

Everything inside the router speaks these types: the servicer converts protobuf to them, each
provider converts them to its wire format and back, the cache stores them. They are frozen so a
cached answer can be shared between callers without copying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FunctionCall:
    name: str
    arguments: str = ""
    """JSON text, as the model wrote it (possibly a fragment in a stream delta)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    function: FunctionCall
    type: str = "function"
    index: int = 0
    """Position in the message's list of calls; what joins a stream's pieces of one call."""


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str = ""
    name: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""


@dataclass(frozen=True, slots=True)
class FunctionDefinition:
    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """JSON Schema of the arguments."""


@dataclass(frozen=True, slots=True)
class Tool:
    function: FunctionDefinition
    type: str = "function"


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class CacheControl:
    no_cache: bool = False
    """Skip the lookup; the answer is still stored unless `no_store`."""
    no_store: bool = False
    ttl_seconds: float | None = None
    """None: the router's default."""
    allow_nondeterministic: bool = False


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling: carried into the usage event, never used to route."""

    request_id: str = ""
    tenant: str = ""
    subject: str = ""
    endpoint: str = ""
    prompt_name: str = ""
    prompt_version: int = 0
    flag_variants: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    api_key_id: str = ""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: str = ""
    sampling: Sampling = Sampling()
    cache: CacheControl = CacheControl()
    context: CallContext = CallContext()


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    """Prompt tokens, cache reads included, cache writes not (see `cache_write_tokens`)."""
    output_tokens: int = 0
    cached_tokens: int = 0
    """Input tokens served from the provider's prompt cache (a part of `input_tokens`)."""
    cache_write_tokens: int = 0
    """Input tokens written to the provider's prompt cache, not a part of `input_tokens`: the
    cost service prices them on their own (above the input price for Claude)."""


@dataclass(frozen=True, slots=True)
class Choice:
    index: int
    message: Message
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's whole answer."""

    id: str
    choices: tuple[Choice, ...]
    usage: Usage
    upstream_model: str = ""


@dataclass(frozen=True, slots=True)
class ChoiceDelta:
    index: int
    delta: Message
    """The role on a choice's first delta, then pieces of content or of tool calls."""
    finish_reason: str = ""


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One piece of a streamed answer; the usage comes on the last one."""

    id: str
    choices: tuple[ChoiceDelta, ...] = ()
    usage: Usage | None = None
    upstream_model: str = ""
