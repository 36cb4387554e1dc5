"""The request pipeline behind the OpenAI-compatible routes (DESIGN.md, "A chat completion,
end to end"): the caller's key (`auth`), the token estimate (`estimate`), the concurrent
rate-limit and budget checks and their reconciliation (`admission`), the router call
(`chat`), and the answer's rate-limit headers in OpenAI's names (`rate_headers`)."""

from gateway.pipeline.admission import Admission, Candidate, Ticket
from gateway.pipeline.auth import Authenticator, bearer_token
from gateway.pipeline.catalogue import Catalogue
from gateway.pipeline.chat import Caller, ChatPipeline, Completed, Streaming
from gateway.pipeline.estimate import TokenEstimate, estimate_tokens
from gateway.pipeline.rate_headers import openai_duration, ratelimit_headers
from gateway.pipeline.request_ids import client_request_id, new_request_id

__all__ = [
    "Admission",
    "Authenticator",
    "Caller",
    "Candidate",
    "Catalogue",
    "ChatPipeline",
    "Completed",
    "Streaming",
    "Ticket",
    "TokenEstimate",
    "bearer_token",
    "client_request_id",
    "estimate_tokens",
    "new_request_id",
    "openai_duration",
    "ratelimit_headers",
]
