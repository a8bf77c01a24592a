"""Instance metadata (instance API, nodeinfo), OAuth (apps, out-of-band authorize, token,
revoke) and the tag RSS feed."""

from __future__ import annotations

from email.utils import format_datetime

from relay.sandbox import render
from relay.sandbox.model import ALL_SCOPES, id_order
from relay.sandbox.routing import Request, Response, error, json_response, route
from relay.sandbox.text import escape

OOB = "urn:ietf:wg:oauth:2.0:oob"


@route("GET", r"/api/v1/instance", auth="none")
def instance_v1(request: Request) -> Response:
    return json_response(render.instance_v1(request.state))


@route("GET", r"/api/v2/instance", auth="none")
def instance_v2(request: Request) -> Response:
    return json_response(render.instance_v2(request.state))


NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"


@route("GET", r"/\.well-known/nodeinfo", auth="none")
def nodeinfo_links(request: Request) -> Response:
    """Where the nodeinfo documents are (Mastodon links 2.0; the others 2.0 and 2.1)."""
    versions = ["2.0"] if request.state.flavour.name == "mastodon" else ["2.0", "2.1"]
    return json_response(
        {
            "links": [
                {"rel": NODEINFO_SCHEMA + v, "href": f"{request.state.url}/nodeinfo/{v}"} for v in versions
            ]
        }
    )


@route("GET", r"/nodeinfo/(?P<version>2\.[01])", auth="none")
def nodeinfo(request: Request) -> Response:
    response = json_response(render.nodeinfo(request.state, request.args["version"]))
    response.content_type = (
        f'application/json; profile="{NODEINFO_SCHEMA}{request.args["version"]}#"; charset=utf-8'
    )
    return response


@route("GET", r"/\.well-known/oauth-authorization-server", auth="none")
def oauth_discovery(request: Request) -> Response:
    url = request.state.url
    return json_response(
        {
            "issuer": f"{url}/",
            "authorization_endpoint": f"{url}/oauth/authorize",
            "token_endpoint": f"{url}/oauth/token",
            "revocation_endpoint": f"{url}/oauth/revoke",
            "userinfo_endpoint": f"{url}/oauth/userinfo",
            "scopes_supported": [*ALL_SCOPES, "profile"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "service_documentation": "https://docs.joinmastodon.org/",
            "app_registration_endpoint": f"{url}/api/v1/apps",
        }
    )


def _scopes(raw: str | None) -> list[str]:
    return (raw or "read").replace("+", " ").split()


@route("POST", r"/api/v1/apps", auth="none")
def create_app(request: Request) -> Response:
    name = request.param("client_name")
    if not name:
        return error(422, "Validation failed: Application name can't be blank")
    redirect = request.params("redirect_uris") or [OOB]
    uris = [u for line in redirect for u in line.split()]
    application = request.state.create_app(
        name, _scopes(request.param("scopes")), uris, request.param("website")
    )
    return json_response(render.app(application, with_secret=True))


@route("GET", r"/api/v1/apps/verify_credentials", auth="app")
def verify_app(request: Request) -> Response:
    assert request.token is not None
    return json_response(render.app(request.token.app, with_secret=False))


@route("GET", r"/oauth/authorize", auth="none")
def authorize(request: Request) -> Response:
    """Auto-approve for the instance's "logged-in" account; shows the code as Mastodon's OOB page."""
    state = request.state
    application = state.apps.get(request.param("client_id") or "")
    redirect_uri = request.param("redirect_uri") or OOB
    if application is None or redirect_uri not in application.redirect_uris:
        return Response(
            400,
            "<p>The client is unknown or the redirect URI does not match.</p>",
            "text/html; charset=utf-8",
        )
    if request.param("response_type") != "code":
        return Response(400, "<p>unsupported_response_type</p>", "text/html; charset=utf-8")
    if state.logged_in is None:
        return Response(
            401, "<p>Nobody is logged in to this sandbox instance.</p>", "text/html; charset=utf-8"
        )
    scopes = _scopes(request.param("scope"))
    if not set(scopes) <= set(application.scopes):
        return Response(400, "<p>invalid_scope</p>", "text/html; charset=utf-8")
    code = state.create_code(application, state.logged_in, scopes, redirect_uri)
    if redirect_uri != OOB:
        location = f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}code={code}"
        return Response(302, "", "text/html; charset=utf-8", {"Location": location})
    html = (
        "<!DOCTYPE html><html><head><title>Authorization code</title></head><body>"
        f"<p>Copy this authorization code to the application.</p>"
        f'<input class="oauth-code" readonly type="text" value="{escape(code)}">'
        "</body></html>"
    )
    return Response(200, html, "text/html; charset=utf-8")


@route("POST", r"/oauth/token", auth="none")
def token(request: Request) -> Response:
    state = request.state
    application = state.apps.get(request.param("client_id") or "")
    if application is None or application.client_secret != request.param("client_secret"):
        return json_response(
            {
                "error": "invalid_client",
                "error_description": (
                    "Client authentication failed due to unknown client, no client authentication "
                    "included, or unsupported authentication method."
                ),
            },
            401,
        )
    grant = request.param("grant_type")
    if grant == "client_credentials":
        scopes = _scopes(request.param("scope"))
        issued = state.create_token(None, scopes, application)
    elif grant == "authorization_code":
        code = state.codes.pop(request.param("code") or "", None)
        if code is None or code.app is not application:
            return json_response(
                {
                    "error": "invalid_grant",
                    "error_description": (
                        "The provided authorization grant is invalid, expired, revoked, does not match "
                        "the redirection URI used in the authorization request, or was issued to "
                        "another client."
                    ),
                },
                400,
            )
        issued = state.create_token(code.account, code.scopes, application)
    else:
        return json_response({"error": "unsupported_grant_type"}, 400)
    return json_response(
        {
            "access_token": issued.value,
            "token_type": "Bearer",
            "scope": " ".join(sorted(issued.scopes)),
            "created_at": 0,
        }
    )


@route("POST", r"/oauth/revoke", auth="none")
def revoke(request: Request) -> Response:
    request.state.revoke(request.param("token") or "")
    return json_response({})


@route("GET", r"/tags/(?P<tag>[^/]+)\.rss", auth="none")
def tag_rss(request: Request) -> Response:
    from relay.sandbox.api_rest import tagged

    state, tag = request.state, request.args["tag"]
    if state.flavour.rss == "none":
        return error(404, "Not Found")
    if state.flavour.rss == "html":  # GoToSocial: its web page for the tag, status 200
        page = f"<!DOCTYPE html><html><head><title>#{escape(tag)}</title></head><body></body></html>"
        return Response(200, page, "text/html; charset=utf-8")
    statuses = sorted(tagged(request, tag, rss=True), key=lambda s: id_order(s.id), reverse=True)[:20]
    items = []
    for st in statuses:
        categories = "".join(f"<category>{escape(t.lower())}</category>" for t in st.tags)
        items.append(
            f'<item><guid isPermaLink="true">{escape(st.url)}</guid>'
            f"<link>{escape(st.url)}</link>"
            f"<pubDate>{format_datetime(st.created_at, usegmt=True)}</pubDate>"
            f"<description>{escape(st.content)}</description>{categories}</item>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:webfeeds="http://webfeeds.org/rss/1.0" '
        'xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>#{escape(tag)}</title>"
        f"<description>Public posts tagged #{escape(tag)}</description>"
        f"<link>{state.url}/tags/{escape(tag)}</link>"
        f"<generator>Mastodon v{state.flavour.version}</generator>" + "".join(items) + "</channel></rss>"
    )
    return Response(200, body, "application/rss+xml; charset=utf-8")
