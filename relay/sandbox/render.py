"""Mastodon 4.6 REST JSON for the sandbox's records; the key sets follow the recorded fixtures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relay.sandbox import quotes
from relay.sandbox.model import Account, App, Conversation, Notification, Status, iso

if TYPE_CHECKING:
    from relay.sandbox.state import InstanceState

Json = dict[str, Any]

VAPID_KEY = "BAhxXyHfAoMqrZECjRI56F5QrE4ynVlkZFMdKSpTIsWRNoWUVgut-Bnz2xsMSwiN4AF0b4I7ixF24OwiicOJivw="
MIME_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "audio/mpeg"]
MEDIA_LIMITS = {
    "image_size_limit": 16777216,
    "image_matrix_limit": 33177600,
    "video_size_limit": 103809024,
    "video_frame_rate_limit": 120,
    "video_matrix_limit": 8294400,
}
POLLS = {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746}
STATUSES = {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23}
ACCOUNT_LIMITS = {
    "max_display_name_length": 40,
    "max_note_length": 500,
    "max_avatar_description_length": 150,
    "max_header_description_length": 150,
    "max_featured_tags": 10,
    "max_pinned_statuses": 5,
    "max_profile_fields": 4,
    "profile_field_name_limit": 255,
    "profile_field_value_limit": 255,
}


def account(state: InstanceState, acc: Account) -> Json:
    base = state.url
    last = state.last_status_at(acc)
    return {
        "id": acc.id,
        "username": acc.username,
        "acct": acc.acct,
        "display_name": acc.display_name,
        "locked": acc.locked,
        "bot": acc.bot,
        "discoverable": acc.indexable,
        "indexable": acc.indexable,
        "group": acc.group,
        "created_at": iso(acc.created_at.replace(hour=0, minute=0, second=0, microsecond=0)),
        "note": acc.note,
        "url": acc.url,
        **({"uri": acc.uri} if state.flavour.account_uri else {}),  # GoToSocial has no uri
        "avatar": f"{base}/avatars/original/missing.png",
        "avatar_static": f"{base}/avatars/original/missing.png",
        "avatar_description": "",
        "header": f"{base}/headers/original/missing.png",
        "header_static": f"{base}/headers/original/missing.png",
        "header_description": "",
        "followers_count": len(state.followers_of(acc)),
        "following_count": len(state.following_of(acc)),
        "statuses_count": state.statuses_count(acc),
        "last_status_at": last.strftime("%Y-%m-%d") if last else None,
        "hide_collections": None,
        "show_media": True,
        "show_media_replies": True,
        "show_featured": True,
        "noindex": not acc.indexable,
        "feature_approval": feature_approval(acc),
        "emojis": [],
        "roles": [],
        "fields": [{"name": k, "value": v, "verified_at": None} for k, v in acc.fields],
    }


def feature_approval(acc: Account) -> Json:
    """An account's consent to be featured in Collections, as Mastodon 4.6 renders it."""
    policy = acc.feature_policy
    return {
        "automatic": ["public"] if policy == "automatic" else [],
        "manual": ["public"] if policy == "manual" else [],
        "current_user": policy,
    }


def credential_account(state: InstanceState, acc: Account) -> Json:
    data = account(state, acc)
    data["source"] = {
        "privacy": "public",
        "sensitive": False,
        "language": acc.language,
        "note": acc.note,
        "fields": [{"name": k, "value": v, "verified_at": None} for k, v in acc.fields],
        "follow_requests_count": 0,
        "hide_collections": None,
        "discoverable": acc.indexable,
        "indexable": acc.indexable,
        "attribution_domains": [],
        "quote_policy": acc.quote_policy,
    }
    data["role"] = {
        "id": "-99",
        "name": "",
        "permissions": "65536",
        "color": "",
        "highlighted": False,
        "collection_limit": 10,
    }
    return data


def status(
    state: InstanceState, st: Status, viewer: Account | None, *, deleted: bool = False, shallow: bool = False
) -> Json:
    """A status as ``viewer`` sees it (``reblogged`` is per viewer); ``deleted`` gives ``text``;
    ``shallow``: shown inside another's quote, so its own quote is a ShallowQuote."""
    target = st.reblog or st
    data: Json = {
        "id": st.id,
        "created_at": iso(st.created_at),
        "in_reply_to_id": st.in_reply_to.id if st.in_reply_to else None,
        "in_reply_to_account_id": st.in_reply_to.account.id if st.in_reply_to else None,
        "sensitive": st.sensitive,
        "spoiler_text": st.spoiler_text,
        "visibility": st.visibility,
        "language": st.language,
        "uri": st.uri,
        "url": st.url,
        "replies_count": state.replies_count(st),
        "reblogs_count": state.reblogs_count(st),
        "favourites_count": 0,
        "quotes_count": sum(
            1
            for s in state.statuses.values()
            if s.quote and s.quote.quoted is st and s.quote.state == "accepted"
        ),
        "edited_at": iso(st.edited_at) if st.edited_at else None,
        "favourited": False,
        "reblogged": viewer is not None and state.reblog_of(viewer, target) is not None,
        "muted": False,
        "bookmarked": False,
    }
    if st.reblog is None and viewer is st.account and st.visibility != "direct":
        data["pinned"] = False  # Mastodon only says "pinned" to the author, who could pin it
    if deleted:
        data["text"] = st.text
    else:
        data["content"] = st.content
    data.update(
        {
            "filtered": [],
            "reblog": status(state, st.reblog, viewer) if st.reblog else None,
            "application": (
                {"name": st.application, "website": None} if st.application and st.local else None
            ),
            "account": account(state, st.account),
            "media_attachments": [],
            "mentions": [
                {"id": m.id, "username": m.username, "url": m.url, "acct": m.acct} for m in st.mentions
            ],
            "tags": [{"name": t, "url": f"{state.url}/tags/{t.lower()}"} for t in st.tags],
            "emojis": [],
            "tagged_collections": [],
            "quote": quotes.render(state, st, viewer, shallow=shallow),
            "card": None,
            "poll": None,
            "quote_approval": quotes.approval(state, st, viewer),
        }
    )
    return data


VIEWER_KEYS = ("favourited", "reblogged", "muted", "bookmarked", "pinned")


def stream_status(state: InstanceState, st: Status) -> Json:
    """A status as public and hashtag streams send it: rendered for no viewer, so without the
    viewer's keys (``favourited``, ``reblogged``, ...), with ``filtered: []`` (Mastodon 4.6)."""
    data = status(state, st, None)
    for node in (data, data.get("reblog") or {}):
        for key in VIEWER_KEYS:
            node.pop(key, None)
    return data


def notification(state: InstanceState, note: Notification) -> Json:
    data: Json = {
        "id": state.shown_id(note.id),
        "type": note.type,
        "created_at": iso(note.created_at),
        "group_key": f"ungrouped-{state.shown_id(note.id)}",
        "account": account(state, note.account),
    }
    if note.status is not None:
        data["status"] = status(state, note.status, note.recipient)
    return data


def relationship(state: InstanceState, viewer: Account, other: Account) -> Json:
    following = other in state.following_of(viewer)
    return {
        "id": other.id,
        "following": following,
        "showing_reblogs": following,
        "notifying": False,
        "languages": None,
        "followed_by": viewer in state.following_of(other),
        "blocking": False,
        "blocked_by": False,
        "muting": False,
        "muting_notifications": False,
        "muting_expires_at": None,
        "requested": False,
        "requested_by": False,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }


def conversation(state: InstanceState, conv: Conversation) -> Json:
    return {
        "id": state.shown_id(conv.id),
        "unread": conv.unread,
        "accounts": [account(state, a) for a in conv.participants],
        "last_status": status(state, conv.last_status, conv.owner),
    }


def app(application: App, *, with_secret: bool) -> Json:
    data: Json = {
        "id": application.id,
        "name": application.name,
        "website": application.website,
        "scopes": list(application.scopes),
        "redirect_uris": list(application.redirect_uris),
        "vapid_key": VAPID_KEY,
        "redirect_uri": "\n".join(application.redirect_uris),
    }
    if with_secret:
        data["client_id"] = application.client_id
        data["client_secret"] = application.client_secret
        data["client_secret_expires_at"] = 0
    return data


def instance_v1(state: InstanceState) -> Json:
    return {
        "uri": state.domain,
        "title": state.name,
        "short_description": "",
        "description": "",
        "email": "",
        "version": state.flavour.version,
        "urls": {"streaming_api": state.streaming_url},
        "stats": {
            "user_count": state.local_account_count(),
            "status_count": state.local_status_count(),
            "domain_count": 1,
        },
        "thumbnail": f"{state.url}/packs/images/preview.png",
        "languages": ["en"],
        "registrations": False,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": {
            "accounts": {"max_featured_tags": 10},
            "statuses": dict(STATUSES),
            "media_attachments": {"supported_mime_types": MIME_TYPES, **MEDIA_LIMITS},
            "polls": dict(POLLS),
        },
        "contact_account": None,
        "rules": [],
    }


SOURCE_URLS = {
    "gotosocial": "https://codeberg.org/superseriousbusiness/gotosocial",
    "akkoma": "https://akkoma.dev/AkkomaGang/akkoma",
    "mitra": "https://codeberg.org/silverpill/mitra",
}
MASTODON_ONLY_CONFIGURATION = ("timelines_access", "limited_federation")  # absent elsewhere


def nodeinfo(state: InstanceState, version: str) -> Json:
    """``/nodeinfo/2.0`` or ``2.1``: which software and version the instance runs."""
    software: Json = {"name": state.flavour.software, "version": state.flavour.version}
    if version == "2.1":
        software["repository"] = SOURCE_URLS.get(
            state.flavour.software, "https://github.com/mastodon/mastodon"
        )
    users = state.local_account_count()
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {
            "users": {"total": users, "activeMonth": users, "activeHalfyear": users},
            "localPosts": state.local_status_count(),
        },
        "openRegistrations": False,
        "metadata": {"nodeName": state.name},
    }


def instance_v2(state: InstanceState) -> Json:
    data = _instance_v2(state)
    if state.flavour.name != "mastodon":
        for key in MASTODON_ONLY_CONFIGURATION:
            data["configuration"].pop(key, None)
        for key in ("api_versions", "wrapstodon"):
            data.pop(key, None)
        if state.flavour.software == "gotosocial":
            data["account_domain"] = state.domain
    return data


def _instance_v2(state: InstanceState) -> Json:
    both_public = {"local": "public", "remote": "public"}
    return {
        "domain": state.domain,
        "title": state.name,
        "version": state.flavour.version,
        "source_url": SOURCE_URLS.get(state.flavour.software, "https://github.com/mastodon/mastodon"),
        "description": "",
        "usage": {"users": {"active_month": state.local_account_count()}},
        "thumbnail": {"url": f"{state.url}/packs/images/preview.png", "description": ""},
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {
                "streaming": state.streaming_url,
                "status": None,
                "about": f"{state.url}/about",
                "privacy_policy": f"{state.url}/privacy-policy",
                "terms_of_service": None,
            },
            "vapid": {"public_key": VAPID_KEY},
            "accounts": dict(ACCOUNT_LIMITS),
            "statuses": dict(STATUSES),
            "media_attachments": {
                "description_limit": 10000,
                "supported_mime_types": MIME_TYPES,
                **MEDIA_LIMITS,
            },
            "polls": dict(POLLS),
            "translation": {"enabled": False},
            "timelines_access": {
                "live_feeds": dict(both_public),
                "hashtag_feeds": dict(state.hashtag_feeds),
                "trending_link_feeds": dict(both_public),
            },
            "limited_federation": False,
        },
        "registrations": {
            "enabled": False,
            "approval_required": False,
            "reason_required": False,
            "message": None,
            "min_age": None,
            "url": None,
        },
        "api_versions": {"mastodon": 11},
        "wrapstodon": None,
        "contact": {"email": "", "account": None},
        "rules": [],
    }
