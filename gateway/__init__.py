"""The gateway: the OpenAI-compatible REST front, API keys and tenants, REST for every admin
RPC transcoded from the services' protobuf contracts, and the OpenAPI documentation."""
