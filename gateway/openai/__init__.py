"""OpenAI's wire format for the gateway's `/v1/chat/completions` and `/v1/models` routes.

- `requests`: an OpenAI chat completions body, checked, as the router's `CompleteRequest`;
- `responses`: the router's answers as `chat.completion`, `chat.completion.chunk` and `list`;
- `sse`: the server-sent events framing of a stream, errors midway included;
- `errors`: `OpenAIError` and the one mapping from gRPC statuses and gateway decisions to it.

Plain functions and data, no HTTP framework: the gateway's routes call them.
"""

from gateway.openai.errors import (
    OpenAIError,
    from_rpc_error,
    insufficient_quota,
    internal_error,
    invalid_api_key,
    invalid_request,
    model_not_found,
    permission_denied,
    rate_limit_exceeded,
    service_unavailable,
    to_openai_error,
)
from gateway.openai.json_body import decode_body
from gateway.openai.requests import ChatCompletionCall, parse_chat_completion
from gateway.openai.responses import (
    ChunkTranslator,
    chat_completion,
    model_list,
    translate_stream,
)
from gateway.openai.sse import MEDIA_TYPE, SSE_HEADERS, primed, sse_frames

__all__ = [
    "MEDIA_TYPE",
    "SSE_HEADERS",
    "ChatCompletionCall",
    "ChunkTranslator",
    "OpenAIError",
    "chat_completion",
    "decode_body",
    "from_rpc_error",
    "insufficient_quota",
    "internal_error",
    "invalid_api_key",
    "invalid_request",
    "model_list",
    "model_not_found",
    "parse_chat_completion",
    "permission_denied",
    "primed",
    "rate_limit_exceeded",
    "service_unavailable",
    "sse_frames",
    "to_openai_error",
    "translate_stream",
]
