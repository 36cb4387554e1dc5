"""The gateway's HTTP routes over its components: the OpenAI-compatible API (`openai_api`),
the admin API under `/admin` (`admin_api`: transcoded RPCs behind authentication and tenant
`confinement`; `keys_api`: the gateway's own tenants and keys), and the OpenAPI document with
its docs pages (`openapi_api`)."""

from gateway.routes.admin_api import PREFIX as ADMIN_PREFIX
from gateway.routes.admin_api import TranscodedAdmin
from gateway.routes.keys_api import KeysApi
from gateway.routes.openai_api import OpenAIRoutes
from gateway.routes.openapi_api import gateway_document, openapi_routes
from gateway.routes.tenant_data import StoredTenantData

__all__ = [
    "ADMIN_PREFIX",
    "KeysApi",
    "OpenAIRoutes",
    "StoredTenantData",
    "TranscodedAdmin",
    "gateway_document",
    "openapi_routes",
]
