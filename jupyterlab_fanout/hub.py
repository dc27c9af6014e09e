"""A JupyterHub single-user authorizer that lets the Hub's own scopes allow or deny the proxy.

Stock JupyterHub does not look at what a request does on a single-user server: whoever may
access the server (its owner, an admin, a user it is shared with through
`access:servers!server=owner/name`) may do everything on it, this proxy included, and so spends
the owner's upstreams, API keys and stream budget. `FanoutHubAuthorizer` keeps that behaviour
for every resource but `fanout`, and for `fanout` requires one more Hub scope:

    c.ServerApp.authorizer_class = "jupyterlab_fanout.hub.FanoutHubAuthorizer"

in the single-user server's configuration, and, on the Hub (docs/jupyterhub.md):

    c.JupyterHub.custom_scopes = {"custom:fanout:use": {"description": "..."}}
    c.Spawner.oauth_client_allowed_scopes = ["custom:fanout:use!server"]
    c.JupyterHub.load_roles = [
        {"name": "fanout", "scopes": ["custom:fanout:use!user"], "users": ["alice"]},
    ]

The scope must be held for this very server: `custom:fanout:use` (any server),
`custom:fanout:use!user=owner` or `custom:fanout:use!server=owner/name` all grant it;
`!group=` filters do not (JupyterHub's own scope check does not resolve groups to users,
so grant the role to the group instead, with `custom:fanout:use!user`).

This module imports JupyterHub: use it only in a single-user server that JupyterHub started.
"""
from __future__ import annotations

import os
from typing import Any

from traitlets import Unicode

try:
    from jupyterhub.singleuser.extension import JupyterHubAuthorizer
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "jupyterlab_fanout.hub.FanoutHubAuthorizer needs JupyterHub (>= 3) installed in the "
        "single-user server's environment (pip install jupyterhub)"
    ) from e

from .handlers import AUTH_RESOURCE

#: The JupyterHub custom scope that allows the proxy, unless configured otherwise.
DEFAULT_SCOPE = "custom:fanout:use"


class FanoutHubAuthorizer(JupyterHubAuthorizer):
    """JupyterHub's single-user authorizer, plus: the `fanout` resource (listing the upstreams,
    opening a batch) needs the Hub scope `FanoutHubAuthorizer.scope` on this server."""

    scope = Unicode(
        DEFAULT_SCOPE,
        config=True,
        help="""The JupyterHub scope a user's token must hold, for this server, to use the
        proxy (the `fanout` resource): define it on the Hub with `c.JupyterHub.custom_scopes`,
        grant it through a role, and let the server's OAuth tokens carry it with
        `c.Spawner.oauth_client_allowed_scopes = ["<scope>!server"]`.""",
    )

    def required_scope(self) -> str:
        """The scope, filtered to this server: `custom:fanout:use!server=owner/name`.

        JupyterHub's check grants it to a holder of the unfiltered scope, of `!user=owner`
        or of `!server=owner/name`.
        """
        owner = os.environ.get("JUPYTERHUB_USER", "")
        server_name = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
        return f"{self.scope}!server={owner}/{server_name}"

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if resource != AUTH_RESOURCE:
            return super().is_authorized(handler, user, action, resource)
        hub_user = getattr(user, "hub_user", None)
        if not hub_user or not os.environ.get("JUPYTERHUB_USER"):
            # Not a JupyterHub identity, or not a server JupyterHub started: no scope to check.
            return False
        if not super().is_authorized(handler, user, action, resource):
            return False
        required = self.required_scope()
        granted = bool(self.hub_auth.check_scopes({required}, hub_user))
        if not granted:
            self.log.warning(
                "jupyterlab_fanout: %s may not %s %s: the Hub did not grant %s",
                hub_user.get("name", "?"), action, resource, required,
            )
        return granted
