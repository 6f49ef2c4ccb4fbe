"""``/scim/v2/`` (the tenant comes from the SCIM token; see ``TenantMiddleware``)."""

from django.urls import re_path

from mamori.scim import views

app_name = "scim"
urlpatterns = [
    re_path(r"^ServiceProviderConfigs?/?$", views.service_provider_config, name="service_provider_config"),
    re_path(r"^ResourceTypes/?$", views.resource_types, name="resource_types"),
    re_path(r"^ResourceTypes/(?P<rid>[^/]+)/?$", views.resource_types, name="resource_type"),
    re_path(r"^Schemas/?$", views.schemas, name="schemas"),
    re_path(r"^Schemas/(?P<sid>[^/]+)/?$", views.schemas, name="schema"),
    re_path(r"^Users/?$", views.users, name="users"),
    re_path(r"^Users/\.search/?$", views.users_search, name="users_search"),
    re_path(r"^Users/(?P<pk>[^/]+)/?$", views.user_detail, name="user"),
    re_path(r"^Groups/?$", views.groups, name="groups"),
    re_path(r"^Groups/\.search/?$", views.groups_search, name="groups_search"),
    re_path(r"^Groups/(?P<pk>[^/]+)/?$", views.group_detail, name="group"),
    re_path(r"^\.search/?$", views.root_search, name="search"),
    re_path(r"^(?P<rest>.*)$", views.unknown, name="unknown"),
]
