"""People: linking chat accounts to GitHub logins, roles, and `/whoami`."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.config import PeopleSection
from bot.core.cog import Cog, every, on_github
from bot.core.commands import Arg, Invocation, Option, Target, command
from bot.core.events import GitHubEvent
from bot.core.messages import Message, Reply
from bot.core.moments import relative, when
from bot.core.usertext import UserText
from cogs.onboarding.threads import lead_appointed
from governance.audit import Actor
from governance.durations import format_duration
from governance.errors import Refusal
from governance.moderation import newcomers
from governance.people import service as people
from governance.people.models import ChatIdentity, Person
from governance.people.roles import GRANTABLE, Role
from governance.people.service import Profile
from governance.projects.service import require_project

ROLE_NAMES = tuple(r.label for r in GRANTABLE)


class PeopleCog(Cog):
    name = "people"
    Settings = PeopleSection
    settings: PeopleSection

    @command("link start", "Link your chat account to your GitHub login",
             Arg("login", "your GitHub login", kind="login"), group_default=True)
    async def link(self, call: Invocation, login: str) -> Reply:
        if login.lower() == self.ctx.bot_login.lower():
            raise Refusal(f"{login} is Roadie's own GitHub account: no chat account links to it.",
                          "Run `/link <github-login>` with your own login.")
        code = await self.ctx.db.run(lambda session: people.start_link(
            session, platform=call.platform, user_id=call.user_id, display_name=call.display_name,
            login=login, now=call.now, ttl=self.settings.link_code_ttl))
        return Reply(private=True, text=(
            f"To prove that you are {login} on GitHub, comment `{code.code}` on any issue or "
            f"pull request in the {self.ctx.org} org as {login} (in your own words, not in a "
            f"quote), or ask an admin to run `/link confirm {code.code} {login}`. The code "
            f"works once, until {when(code.expires_at)} "
            f"({format_duration(self.settings.link_code_ttl)} from now)."))

    @command("link confirm", "Confirm someone's link with the code they were given",
             Arg("code", "the code from their `/link`"),
             Arg("login", "the GitHub login the code claims, once you have checked it",
                 kind="login", optional=True), role=Role.ADMIN)
    async def confirm(self, call: Invocation, code: str, login: str | None) -> str | Reply:
        if login is None:
            return await self.ctx.db.run(lambda session: self._claimed_pair(session, code,
                                                                            call.now))
        claimed = login

        def confirm_and_tell(session: Session) -> tuple[ChatIdentity, Profile]:
            identity = people.confirm_link_by_admin(session, actor=call.actor, code=code,
                                                    login=claimed, now=call.now)
            person = people.profile_of(session, session.get(Person, identity.person_id))
            self.ctx.outbox.post_to_person(session, person.login or "", Message(
                title="Your chat account is linked",
                body=f"{call.profile.login} confirmed that this account is {person.login} on "
                     "GitHub."))
            return identity, person

        identity, person = await self.ctx.db.run(confirm_and_tell)
        return f"Linked {identity.platform}:{identity.user_id} to {person.login}."

    @staticmethod
    def _claimed_pair(session: Session, code: str, now: datetime) -> Reply:
        """What a code claims, for the admin to check before confirming that very pair."""
        row = people.pending_link(session, code=code, now=now)
        shown = people.touch_identity(session, row.platform, row.user_id, "", now).display_name
        account = f"{row.platform}:{row.user_id}" + (f" ({UserText(shown)})" if shown else "")
        return Reply(private=True, text=(
            f"The code {row.code} was given to the chat account {account}, which claims to be "
            f"{row.login} on GitHub. Nothing is linked yet. If you know that this account is "
            f"{row.login}, run `/link confirm {row.code} {row.login}`. The code expires "
            f"{when(row.expires_at)} ({relative(row.expires_at, now)})."))

    @command("unlink", "Unlink a chat account from its GitHub login (yours, or any as admin)",
             Arg("target", "the chat account, as a mention (admins only)", kind="target",
                 optional=True))
    async def unlink(self, call: Invocation, target: Target | None) -> str:
        platform, user_id = call.platform, call.user_id
        if target is not None:
            if call.profile.role < Role.ADMIN:
                raise Refusal("Only admins unlink other accounts.", "Run `/unlink` alone.")
            if target.platform == "github":
                raise Refusal("Name the chat account, not the GitHub login.",
                              "Mention it, e.g. `/unlink discord:1234`.")
            platform, user_id = target.platform, target.id
        await self.ctx.db.run(lambda session: people.unlink(
            session, actor=call.actor, platform=platform, user_id=user_id, now=call.now))
        return f"Unlinked {platform}:{user_id}."

    @command("whoami", "Who Roadie thinks you are, and what you may do")
    async def whoami(self, call: Invocation) -> str:
        profile = call.profile
        if not profile.linked:
            return (f"You are {call.display_name or call.user_id} on {call.platform}, not linked "
                    "to a GitHub login, so you count as anyone: you may read `/help` and "
                    "`/whoami`. Run `/link <github-login>` to link.")
        accounts = [f"{a.platform}:{a.display_name or a.user_id}" for a in profile.accounts]
        roles = sorted(profile.roles, reverse=True)
        role_text = ", ".join(r.label for r in roles) if roles else "none (you count as anyone)"
        lines = [f"You are {profile.login} on GitHub.",
                 f"Linked chat accounts: {', '.join(accounts) or 'none'}.",
                 f"Roles: {role_text}."]
        if profile.lead_of:
            lines.append(f"Lead of: {', '.join(sorted(profile.lead_of))}.")
        lines.append(f"You may use everything up to the {profile.role.label} role; "
                     "`/help` lists those commands.")
        return "\n".join(lines)

    @command("grant", "Give someone a role (lead needs the project)",
             Arg("login", "their GitHub login", kind="login"),
             Arg("role", "the role to grant", choices=ROLE_NAMES),
             Arg("project", "the project, for the lead role", optional=True, default="",
                 autocomplete="projects"),
             Option("reason", "why, for the audit log", of="text", default=""),
             role=Role.ADMIN)
    async def grant(self, call: Invocation, login: str, role: str, project: str,
                    reason: str) -> str:
        granted = Role.parse(role)

        def transact(session: Session) -> str:
            if project:
                require_project(session, project)
            people.grant_role(session, actor=call.actor, login=login, role=granted,
                              project=project, now=call.now, reason=reason)
            self.ctx.outbox.post(session, "modlog", Message(
                title=f"{login} is now {role}" + (f" of {project}" if project else ""),
                body=f"Granted by {call.profile.login}."
                     + (f" Reason: {UserText(reason)}" * bool(reason))))
            if granted == Role.LEAD and project:
                return lead_appointed(self.ctx, session, project=project, lead=login,
                                      by=call.profile.login or "")
            return ""

        ticked = await self.ctx.db.run(transact)
        return f"{login} is now {role}" + (f" of {project}." if project else ".") + ticked

    @command("revoke", "Take a role away",
             Arg("login", "their GitHub login", kind="login"),
             Arg("role", "the role to revoke", choices=ROLE_NAMES),
             Arg("project", "the project, for the lead role", optional=True, default="",
                 autocomplete="projects"),
             Option("reason", "why, for the audit log", of="text", default=""),
             role=Role.ADMIN)
    async def revoke(self, call: Invocation, login: str, role: str, project: str,
                     reason: str) -> str:
        def transact(session: Session) -> None:
            people.revoke_role(session, actor=call.actor, login=login, role=Role.parse(role),
                               project=project, now=call.now, reason=reason)
            self.ctx.outbox.post(session, "modlog", Message(
                title=f"{login} is no longer {role}" + (f" of {project}" if project else ""),
                body=f"Revoked by {call.profile.login}."
                     + (f" Reason: {UserText(reason)}" * bool(reason))))
        await self.ctx.db.run(transact)
        return f"{login} is no longer {role}" + (f" of {project}." if project else ".")

    @command("roles", "Who holds a role",
             Arg("role", "the role to list", choices=ROLE_NAMES, optional=True, default=""),
             role=Role.MEMBER)
    async def roles(self, call: Invocation, role: str) -> str:
        wanted = [Role.parse(role)] if role else [Role.ADMIN, Role.MODERATOR, Role.LEAD]
        lines = []
        def transact(session: Session) -> None:
            for item in wanted:
                names = [p.display_login for p in people.holders(session, item)]
                lines.append(f"{item.label}: {', '.join(names) or 'nobody'}")
        await self.ctx.db.run(transact)
        return "\n".join(lines)

    # --- GitHub -------------------------------------------------------------------------

    @on_github("issue_comment")
    async def link_code_in_comment(self, event: GitHubEvent) -> bool:
        if event.action != "created":
            return False
        body, commenter = event.text("comment", "body"), event.text("comment", "user", "login")
        if not commenter or self._written_by_a_bot(event, commenter):
            return False  # Roadie's own comments carry other people's text (the mirror)
        if people.CODE_PATTERN.search(people.own_text(body)) is None:
            return False
        member = await self._org_member(commenter)
        def confirm(session: Session) -> bool:
            linked = people.confirm_link_by_comment(session, commenter=commenter, body=body,
                                                    now=self.ctx.clock.now())
            if not linked:
                return False
            if member:
                self._ensure_member(session, commenter)
            self.ctx.outbox.post_to_person(session, commenter, Message(
                title="Your chat account is linked",
                body=f"Your comment proved that this account is {commenter} on GitHub.",
                tone="success"))
            return True

        return await self.ctx.db.run(confirm)

    def _written_by_a_bot(self, event: GitHubEvent, login: str) -> bool:
        return (login.lower() == self.ctx.bot_login.lower() or login.lower().endswith("[bot]")
                or event.text("comment", "user", "type") == "Bot")

    @on_github("organization")
    async def org_membership(self, event: GitHubEvent) -> bool:
        login = event.text("membership", "user", "login")
        if not login or event.action not in ("member_added", "member_removed"):
            return False
        now = self.ctx.clock.now()
        def follow_membership(session: Session) -> bool:
            if event.action == "member_added":
                return self._admit(session, login)
            newcomers.left(session, login=login, now=now)
            profile = people.profile_for_login(session, login)
            if Role.MEMBER in profile.roles:
                try:
                    people.revoke_role(session, actor=Actor.github(event.sender or "github"),
                                       login=login, role=Role.MEMBER, now=now,
                                       reason="left the GitHub org")
                except Refusal:
                    return False
                return True
            return False

        return await self.ctx.db.run(follow_membership)

    def _admit(self, session: Session, login: str) -> bool:
        """Someone joined the org: a member at once, or after the probation (the default)."""
        if Role.MEMBER in people.profile_for_login(session, login).roles:
            return False
        if not self.settings.probation:
            return self._ensure_member(session, login)
        newcomers.arrive(session, login=login, now=self.ctx.clock.now(),
                         probation=self.settings.probation)
        return True

    def _ensure_member(self, session: Session, login: str) -> bool:
        if Role.MEMBER in people.profile_for_login(session, login).roles:
            return False
        if newcomers.on_probation(session, login) is not None:
            return False
        people.grant_role(session, actor=Actor.system(), login=login, role=Role.MEMBER,
                          now=self.ctx.clock.now(), reason="a member of the GitHub org",
                          source="github")
        return True

    # --- newcomers ----------------------------------------------------------------------

    @command("vouch", "Vouch for someone who joined the org lately: they become a member",
             Arg("login", "their GitHub login", kind="login"), role=Role.MEMBER)
    async def vouch(self, call: Invocation, login: str) -> str:
        call.require_linked()
        needed = self.settings.vouches

        def transact(session: Session) -> tuple[str, list[str], bool, str]:
            newcomer, ended = newcomers.vouch(session, login=login, voucher=call.profile,
                                              now=call.now, needed=needed)
            name = newcomer.display_login
            until = f"{newcomer.until:%Y-%m-%d %H:%M} UTC" if newcomer.until else ""
            if ended:
                self._ensure_member(session, name)
                self.ctx.outbox.post(session, "modlog", Message(
                    title=f"{name} is now a member",
                    body=f"Vouched for by {', '.join(newcomer.vouchers)}; their probation "
                         "is over."))
            return name, newcomer.vouchers, ended, until

        name, vouchers, ended, until = await self.ctx.db.run(transact)
        if ended:
            return f"You vouched for {name}: their probation is over, and they are a member."
        return (f"You vouched for {name}: {len(vouchers)} of {needed} vouches. They become a "
                f"member with {needed - len(vouchers)} more, or on {until}.")

    @every("1m")
    async def end_probations(self) -> None:
        """Newcomers whose probation time is up become members."""
        now = self.ctx.clock.now()
        due = await self.ctx.db.run(lambda session: newcomers.due(session, now))

        def end(session: Session, newcomer_id: int) -> None:
            newcomer = newcomers.end_due(session, newcomer_id, now)
            if newcomer is not None:
                self._ensure_member(session, newcomer.display_login)

        for newcomer_id in due:
            await self.ctx.db.run(lambda session, n=newcomer_id: end(session, n))

    async def _org_member(self, login: str) -> bool:
        if self.ctx.github is None or not self.settings.members_from_github:
            return False
        return await self.ctx.github.is_org_member(login)


COG = PeopleCog
