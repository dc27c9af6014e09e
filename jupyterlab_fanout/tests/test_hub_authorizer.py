"""FanoutHubAuthorizer's decisions, scope by scope, without a Hub (test_jupyterhub.py runs one).

The scopes are those a single-user server receives from the Hub for a token (the `scopes` of
the user model), checked by JupyterHub's own `check_scopes`.
"""
from __future__ import annotations

import types

import pytest

pytest.importorskip("jupyterhub", reason="JupyterHub is not installed (pip install -e '.[test]')")

from jupyter_server.auth.identity import IdentityProvider  # noqa: E402
from jupyterhub.services.auth import check_scopes  # noqa: E402
from jupyterhub.singleuser.extension import JupyterHubUser  # noqa: E402

from jupyterlab_fanout.hub import FanoutHubAuthorizer  # noqa: E402

#: what the Hub asks of a token to reach alice's default server at all
ACCESS = {"access:servers!server=alice/", "access:servers!user=alice"}


@pytest.fixture
def authorizer(monkeypatch: pytest.MonkeyPatch) -> FanoutHubAuthorizer:
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", "")
    hub_auth = types.SimpleNamespace(
        access_scopes=ACCESS,
        oauth_scopes=ACCESS,
        check_scopes=lambda required, user: check_scopes(required, set(user["scopes"])),
    )
    identity_provider = IdentityProvider()
    identity_provider.hub_auth = hub_auth  # what JupyterHubIdentityProvider carries
    return FanoutHubAuthorizer(identity_provider=identity_provider)


def user(name: str, *scopes: str) -> JupyterHubUser:
    return JupyterHubUser({"name": name, "kind": "user", "scopes": list(scopes)})


@pytest.mark.parametrize(
    "scopes, allowed",
    [
        (["access:servers!server=alice/", "custom:fanout:use!server=alice/"], True),
        (["access:servers!user=alice", "custom:fanout:use!user=alice"], True),
        (["access:servers", "custom:fanout:use"], True),
        # access alone (a shared server): no proxy
        (["access:servers!user=alice"], False),
        # the scope for another server or user
        (["access:servers!user=alice", "custom:fanout:use!user=bob"], False),
        (["access:servers!user=alice", "custom:fanout:use!server=alice/other"], False),
        # group filters are not resolved in the single-user server (docs/jupyterhub.md)
        pytest.param(
            ["access:servers!user=alice", "custom:fanout:use!group=staff"], False,
            marks=pytest.mark.filterwarnings("ignore:.*combinations of filters:UserWarning"),
        ),
        # another custom scope whose name starts the same
        (["access:servers!user=alice", "custom:fanout:user"], False),
    ],
)
@pytest.mark.parametrize("action", ["read", "execute"])
def test_the_fanout_resource_needs_the_scope_on_this_server(
    authorizer: FanoutHubAuthorizer, scopes: list[str], allowed: bool, action: str
):
    assert authorizer.is_authorized(None, user("bob", *scopes), action, "fanout") is allowed


def test_other_resources_are_decided_as_jupyterhub_does(authorizer: FanoutHubAuthorizer):
    shared = user("bob", "access:servers!user=alice")
    for resource in ("contents", "kernels", "terminals", "api"):
        assert authorizer.is_authorized(None, shared, "write", resource)
    # no access to the server: nothing at all, the proxy included
    stranger = user("eve", "custom:fanout:use")
    assert not authorizer.is_authorized(None, stranger, "read", "contents")
    assert not authorizer.is_authorized(None, stranger, "execute", "fanout")


def test_a_named_server_needs_the_scope_for_that_server(
    authorizer: FanoutHubAuthorizer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("JUPYTERHUB_SERVER_NAME", "gpu")
    authorizer.identity_provider.hub_auth.oauth_scopes = {"access:servers!server=alice/gpu"}
    on_gpu = user("alice", "access:servers!server=alice/gpu", "custom:fanout:use!server=alice/gpu")
    on_default = user("alice", "access:servers!server=alice/gpu", "custom:fanout:use!server=alice/")
    assert authorizer.is_authorized(None, on_gpu, "execute", "fanout")
    assert not authorizer.is_authorized(None, on_default, "execute", "fanout")


def test_the_scope_name_is_configurable(authorizer: FanoutHubAuthorizer):
    authorizer.scope = "custom:gpu-proxy"
    granted = user("bob", "access:servers!user=alice", "custom:gpu-proxy!user=alice")
    assert authorizer.is_authorized(None, granted, "execute", "fanout")
    default = user("bob", "access:servers!user=alice", "custom:fanout:use!user=alice")
    assert not authorizer.is_authorized(None, default, "execute", "fanout")


def test_an_identity_not_from_the_hub_is_refused_the_proxy(
    authorizer: FanoutHubAuthorizer, monkeypatch: pytest.MonkeyPatch
):
    """Under JupyterHub every identity comes from the Hub; one that does not (another identity
    provider), or a server the Hub did not start, gets no proxy rather than an error."""
    from jupyter_server.auth.identity import User

    assert not authorizer.is_authorized(None, User(username="alice"), "execute", "fanout")
    granted = user("alice", "access:servers!user=alice", "custom:fanout:use!user=alice")
    assert authorizer.is_authorized(None, granted, "execute", "fanout")
    monkeypatch.delenv("JUPYTERHUB_USER")
    assert not authorizer.is_authorized(None, granted, "execute", "fanout")
