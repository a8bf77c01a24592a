"""The directory's DM commands: `join`, `leave` and `intro` (anyone, by DM) and `unlist` (moderators).

Nobody is listed without asking: only the sender's own `join` lists them, with the profile the
channel looked up on the home instance beforehand (`Context.sender`); `leave`, a moderator's
`unlist`, the sender's `optout` and a `block` (`relay.moderation.actions`) take them out. Each
write audits itself in the store (`relay.store.members`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from relay.core.accounts import norm_acct
from relay.moderation import grammar as c
from relay.store.store import Store

if TYPE_CHECKING:
    from relay.moderation.actions import Context, Outcome, Settings


class Membership:
    """The handlers of the directory's commands, for `relay.moderation.actions.Actions`."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def handlers(self) -> dict[type, Callable[[c.Command, Context, Outcome], None]]:
        """Each command's handler, by its type."""
        return {c.Join: self._join, c.Leave: self._leave, c.Intro: self._intro, c.Unlist: self._unlist}

    def _no_directory(self, out: Outcome) -> bool:
        if not self._settings.directory:
            out.lines.append("This relay keeps no directory.")
        return not self._settings.directory

    def _join(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        if self._no_directory(out):
            return
        acct, tags = norm_acct(ctx.actor), " ".join(f"#{t}" for t in self._settings.hashtags)
        if ctx.sender is None:
            out.lines.append(
                f"I could not find your account on {self._settings.home_host}; please try later."
            )
            return
        history = self._store.people.history(acct, "", ctx.now, uri="")
        if history.account_blocked is not None or history.domain_blocked is not None:
            out.lines.append("Sorry, this relay's moderators have blocked your account or server.")
            return
        if not self._store.members.join(ctx.sender, acct, ctx.now):
            member = self._store.members.get(acct)
            since = f" since {member.joined_at:%Y-%m-%d}" if member is not None else ""
            out.lines.append(f"You are already in the directory{since}. Send `leave` to be taken out.")
            return
        out.lines.append(
            f"Welcome: you are in the {tags} directory. Your introduction there is your first post I"
            f" boost, or reply `intro` to one of your public posts; until then, your bio."
            " Send `leave` to be taken out at any time."
        )

    def _leave(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        if self._no_directory(out):
            return
        acct = norm_acct(ctx.actor)
        if self._store.members.leave(acct, "leave", acct, ctx.now):
            out.lines.append("Done: you are no longer in the directory. Send `join` to come back.")
        else:
            out.lines.append("You were not in the directory.")

    def _intro(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Intro)
        if self._no_directory(out):
            return
        acct = norm_acct(ctx.actor)
        member = self._store.members.get(acct)
        if member is None or member.left_at is not None:
            out.lines.append("You are not in the directory: send `join` first.")
            return
        post = ctx.resolved.get(cmd.url) if cmd.url is not None else ctx.reply_post
        if post is None:
            out.lines.append("Which post? Reply `intro` to one of your public posts, or send `intro URL`.")
        elif norm_acct(post.author.acct) != acct:
            out.lines.append("That post is not yours: your introduction must be one of your own posts.")
        elif post.visibility != "public" or self._store.posts.is_retracted(post.uri):
            out.lines.append("Only a public post can be your introduction.")
        else:
            self._store.members.set_intro(
                acct, post.uri, post.url, post.content_html, chosen=True, actor=acct, now=ctx.now
            )
            out.lines.append(f"Done: {post.url or post.uri} is your introduction in the directory.")

    def _unlist(self, cmd: c.Command, ctx: Context, out: Outcome) -> None:
        assert isinstance(cmd, c.Unlist)
        if self._no_directory(out):
            return
        if self._store.members.leave(cmd.handle, "unlist", ctx.actor, ctx.now):
            out.lines.append(
                f"Took {cmd.handle} out of the directory. They may `join` again; `block` keeps them out."
            )
        else:
            out.lines.append(f"{cmd.handle} is not in the directory.")
