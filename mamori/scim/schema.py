"""The SCIM resource shapes Mamori serves, built with scim2-models.

Only the attributes Mamori stores are declared, so the published ``/Schemas`` tell an
identity provider exactly what it can write and read back (RFC 7643 §7):

User: ``userName`` (unique, case-insensitive), ``externalId``, ``name`` (formatted,
familyName, givenName), ``displayName`` (Mamori's user name), ``emails`` (value, type,
primary; the primary value is the user's sign-in address; required), ``active``
(false = suspended).
Group (an organizational unit): ``displayName`` (the unit's name), ``externalId``,
``members`` (users: value, $ref, type).
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import EmailStr, Field
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    Email,
    ETag,
    Filter,
    Mutability,
    Patch,
    Reference,
    Required,
    Resource,
    ResourceType,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_RESULTS = 200
DOCS_URL = "https://mamori.example/docs/accounts/scim"

#: Interoperability with the common identity providers: attributes Mamori does not
#: store are dropped (RFC 7644 §3.3), a ``remove`` carrying a value removes those values
#: (Entra ID does this for group members), and an ``add``/``replace`` whose filter
#: matches no value creates it (``emails[type eq "work"].value``).
POLICY = ScimPolicy(unknown=ScimPolicy.Unknown.ignore, remove_value_as_filter=ScimPolicy.RemoveValue.apply,
                    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create)


class Name(ComplexAttribute):
    formatted: str | None = None
    family_name: str | None = None
    given_name: str | None = None


class UserEmail(ComplexAttribute):
    value: Annotated[EmailStr | None, Required.true] = None
    type: Email.Type | None = None
    primary: bool | None = None


class User(Resource[Any]):
    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Required.true, Uniqueness.server] = None
    name: Name | None = None
    display_name: str | None = None
    emails: Annotated[list[UserEmail] | None, Required.true] = None
    active: bool | None = None


class GroupMember(ComplexAttribute):
    value: Annotated[str | None, Mutability.immutable] = None
    ref: Annotated[Reference[Union["User", "Group"]] | None, Mutability.immutable] = Field(  # noqa: UP007, UP037 (scim2-models reads the quoted names)
        None, serialization_alias="$ref", validation_alias="$ref")
    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])


class Group(Resource[Any]):
    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true] = None
    members: list[GroupMember] | None = None


GroupMember.model_rebuild()
MODELS: dict[str, type[Resource[Any]]] = {"User": User, "Group": Group}
ENDPOINTS = {"User": "/Users", "Group": "/Groups"}


def service_provider_config(base_url: str) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=DOCS_URL,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken, name="OAuth Bearer Token",
            description="A SCIM token issued in Settings → Security → SCIM provisioning (mmrscim_…).",
            primary=True)],
    )


def resource_types() -> list[ResourceType]:
    return [
        ResourceType(id="User", name="User", endpoint="/Users", description="User Account", schema_=URN(USER_SCHEMA)),
        ResourceType(id="Group", name="Group", endpoint="/Groups",
                     description="Organizational unit", schema_=URN(GROUP_SCHEMA)),
    ]


def schemas():
    user, group = User.to_schema(), Group.to_schema()
    user.description = "User Account"
    group.description = "Organizational unit"
    return [user, group]
