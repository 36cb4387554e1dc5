"""The prompt registry (`python -m services.prompts`, gRPC `switchboard.prompts.v1`, port 50055).

Prompts with immutable versions, movable labels with a full history, rendering (logic-less
`{{variable}}` or sandboxed Jinja2; chat templates with placeholders), diffs, and a stream of
changes for caching clients (`client.PromptClient`). Start with `registry` (what each RPC
does), `versions` and `labels` (how concurrency is made exact), `change_feed` (how replicas
hear of each other's changes).
"""
