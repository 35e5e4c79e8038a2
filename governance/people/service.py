"""Who is who, and who may do what.

A chat account counts as anyone until its link to a GitHub login is proven, either by a
one-time code commented on GitHub by that login or by an admin's confirmation.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    literal,
    null,
    union_all,
    update,
)
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from governance.audit import Actor, record
from governance.db import insert_ignoring_conflicts, insert_ignoring_statement
from governance.errors import Conflict, Forbidden, NotFound, Refusal
from governance.people.models import ChatIdentity, LinkCode, Person, RoleGrant
from governance.people.roles import GRANTABLE, Role

_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_PATTERN = re.compile(r"roadie-link-[A-Z2-9]{8}")
LOGIN_HINT = "a GitHub login: letters, digits and single hyphens, at most 39 characters"


def normalize_login(text: str) -> str:
    """A GitHub login as written (without a leading @), or a Refusal saying what is wrong."""
    login = text.strip().removeprefix("@")
    if not _LOGIN.fullmatch(login):
        raise Refusal(f"{text!r} is not a GitHub login.", f"Write {LOGIN_HINT}.")
    return login


@dataclass(frozen=True)
class LinkedAccount:
    """A chat account linked to a person."""
    platform: str
    user_id: str
    display_name: str


@dataclass(frozen=True)
class Profile:
    """What Roadie knows of a speaker: the linked person (if any) and their roles."""

    login: str | None = None
    person_id: int | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    lead_of: frozenset[str] = field(default_factory=frozenset)
    seeded: frozenset[Role] = field(default_factory=frozenset)
    """The roles that come from the config file (changed there, not by `/revoke`)."""
    accounts: tuple[LinkedAccount, ...] = ()
    """The chat accounts linked to the person, by platform, as `speaker_profile` reads them
    (`profile_of` leaves them out: `accounts_of` reads them)."""

    @property
    def role(self) -> Role:
        """The highest rung of the ladder this person stands on."""
        return max(self.roles, default=Role.ANYONE)

    @property
    def linked(self) -> bool:
        return self.person_id is not None

    def is_lead_of(self, project: str) -> bool:
        return project.lower() in self.lead_of

    def at_least(self, role: Role) -> bool:
        return self.role >= role

    def actor(self) -> Actor:
        return Actor.github(self.login) if self.login else Actor.system()


ANONYMOUS = Profile()


def find_person(session: Session, login: str) -> Person | None:
    return session.exec(select(Person).where(Person.login == login.lower())).first()


def ensure_person(session: Session, login: str, now: datetime) -> Person:
    login = normalize_login(login)
    person = find_person(session, login)
    if person is None:
        # Another replica may add the same person at the same moment: let the database decide.
        insert_ignoring_conflicts(session, Person, [{"login": login.lower(),
                                                     "display_login": login,
                                                     "created_at": now}], ("login",))
        person = find_person(session, login)
        assert person is not None
    return person


def profile_of(session: Session, person: Person | None) -> Profile:
    if person is None:
        return ANONYMOUS
    grants = session.exec(
        select(RoleGrant).where(RoleGrant.person_id == person.id,
                                col(RoleGrant.revoked_at).is_(None))
    ).all()
    roles = {Role.parse(g.role) for g in grants}
    lead_of = frozenset(g.project.lower() for g in grants if g.role == Role.LEAD.label)
    seeded = frozenset(Role.parse(g.role) for g in grants if g.source == "config")
    return Profile(login=person.display_login, person_id=person.id, roles=frozenset(roles),
                   lead_of=lead_of, seeded=seeded)


def profile_for_login(session: Session, login: str) -> Profile:
    return profile_of(session, find_person(session, login))


def touch_identity(session: Session, platform: str, user_id: str, display_name: str,
                   now: datetime) -> ChatIdentity:
    """The chat identity for an account, created on first sight; its display name kept fresh."""
    identity = session.exec(
        select(ChatIdentity).where(ChatIdentity.platform == platform,
                                   ChatIdentity.user_id == user_id)
    ).first()
    if identity is None:
        identity = ChatIdentity(platform=platform, user_id=user_id, display_name=display_name,
                                first_seen_at=now)
        session.add(identity)
        session.flush()
    elif display_name and identity.display_name != display_name:
        identity.display_name = display_name
    return identity


_IDENTITY = ChatIdentity.__table__  # type: ignore[attr-defined]
_PERSON = Person.__table__  # type: ignore[attr-defined]
_GRANT = RoleGrant.__table__  # type: ignore[attr-defined]
# Built once: building a statement costs more CPU than running it (every command runs these).
_LINKED = _IDENTITY.alias("linked")
_THE_SPEAKER = and_(_IDENTITY.c.platform == bindparam("platform"),
                    _IDENTITY.c.user_id == bindparam("user_id"))
_SPEAKER = union_all(
    # The account itself, its person and each of the person's roles (one row at least).
    core_select(literal(0).label("kind"), _IDENTITY.c.display_name, _PERSON.c.id,
                _PERSON.c.display_login, _GRANT.c.role.label("role_or_platform"),
                _GRANT.c.project.label("project_or_user"),
                null().cast(String).label("linked_name"))
    .select_from(_IDENTITY.outerjoin(_PERSON, _PERSON.c.id == _IDENTITY.c.person_id)
                 .outerjoin(_GRANT, and_(_GRANT.c.person_id == _PERSON.c.id,
                                         _GRANT.c.revoked_at.is_(None))))
    .where(_THE_SPEAKER),
    # Each chat account linked to the same person (for /whoami, in the same round trip);
    # what the first part gives is not repeated.
    core_select(literal(1).label("kind"), null().cast(String), null().cast(Integer),
                null().cast(String), _LINKED.c.platform, _LINKED.c.user_id,
                _LINKED.c.display_name)
    .select_from(_IDENTITY.join(_LINKED, _LINKED.c.person_id == _IDENTITY.c.person_id))
    .where(_THE_SPEAKER),
).order_by("kind", "role_or_platform", "project_or_user")
_RENAME = (update(_IDENTITY).where(_IDENTITY.c.platform == bindparam("of_platform"),
                                   _IDENTITY.c.user_id == bindparam("of_user_id"))
           .values(display_name=bindparam("new_name")))
_IDENTITIES = (core_select(_IDENTITY.c.platform, _IDENTITY.c.user_id,
                           _IDENTITY.c.display_name)
               .where(_IDENTITY.c.person_id == bindparam("person_id"))
               .order_by(_IDENTITY.c.platform, _IDENTITY.c.user_id))


def speaker_profile(session: Session | Connection, platform: str, user_id: str, display_name: str,
                    now: datetime) -> Profile:
    """The profile of a chat account (its person, roles, leads and linked accounts) in one
    query, as every command needs it first. The account is recorded on first sight and its
    display name kept fresh, but only then is anything written: usually this is one round
    trip (with `Database.autocommit`)."""
    connection = session.connection() if isinstance(session, Session) else session
    account = {"platform": platform, "user_id": user_id}
    rows = connection.execute(_SPEAKER, account).all()
    if not rows:
        # Two first commands of one account may race: the database keeps one row.
        connection.execute(insert_ignoring_statement(
            _IDENTITY, ("platform", "user_id"), connection.dialect.name), {
            **account, "display_name": display_name, "first_seen_at": now, "linked_by": ""})
        return ANONYMOUS
    renamed = bool(display_name) and rows[0].display_name != display_name
    if renamed:
        connection.execute(_RENAME, {"of_platform": platform, "of_user_id": user_id,
                                     "new_name": display_name})
    person_id, login = rows[0].id, rows[0].display_login
    if person_id is None:
        return ANONYMOUS
    grants: list[tuple[str, str]] = []
    accounts: list[LinkedAccount] = []
    for row in rows:
        kind, first, second = row.kind, row.role_or_platform, row.project_or_user
        if kind == 0 and first is not None:
            grants.append((first, second))
        elif kind == 1:
            itself = renamed and (first, second) == (platform, user_id)
            accounts.append(LinkedAccount(first, second,
                                          display_name if itself else row.linked_name))
    return Profile(login=login, person_id=person_id,
                   roles=frozenset(Role.parse(role) for role, _ in grants),
                   lead_of=frozenset(project.lower() for role, project in grants
                                     if role == Role.LEAD.label),
                   accounts=tuple(accounts))


def accounts_of(session: Session | Connection, person_id: int) -> list[LinkedAccount]:
    """The chat accounts linked to a person, by platform: one prebuilt query, no ORM."""
    connection = session.connection() if isinstance(session, Session) else session
    rows = connection.execute(_IDENTITIES, {"person_id": person_id})
    return [LinkedAccount(*row) for row in rows]


def profile_for_chat(session: Session, platform: str, user_id: str) -> Profile:
    identity = session.exec(
        select(ChatIdentity).where(ChatIdentity.platform == platform,
                                   ChatIdentity.user_id == user_id)
    ).first()
    if identity is None or identity.person_id is None:
        return ANONYMOUS
    return profile_of(session, session.get(Person, identity.person_id))


def chat_ids_for_logins(session: Session, platform: str, logins: Iterable[str]) -> dict[str, str]:
    """Map GitHub logins to their linked user ids on one platform (unlinked logins left out)."""
    wanted = {login.lower() for login in logins}
    if not wanted:
        return {}
    rows = session.exec(
        select(Person.login, ChatIdentity.user_id)
        .join(ChatIdentity, col(ChatIdentity.person_id) == Person.id)
        .where(ChatIdentity.platform == platform, col(Person.login).in_(wanted))
    ).all()
    return {login: user_id for login, user_id in rows}


def holders(session: Session, role: Role, project: str | None = None) -> list[Person]:
    """Everyone holding a role now (for leads, of one project when given)."""
    query = (select(Person).join(RoleGrant, col(RoleGrant.person_id) == Person.id)
             .where(RoleGrant.role == role.label, col(RoleGrant.revoked_at).is_(None)))
    if project is not None:
        query = query.where(RoleGrant.project == project.lower())
    return list(session.exec(query.order_by(col(Person.login)).distinct()).all())


# --- grants -----------------------------------------------------------------------------


def _active_grant(session: Session, person_id: int, role: Role, project: str) -> RoleGrant | None:
    return session.exec(
        select(RoleGrant).where(RoleGrant.person_id == person_id, RoleGrant.role == role.label,
                                RoleGrant.project == project,
                                col(RoleGrant.revoked_at).is_(None)).with_for_update()
    ).first()


def grant_role(session: Session, *, actor: Actor, login: str, role: Role, now: datetime,
               project: str = "", reason: str = "", source: str = "command") -> RoleGrant:
    if role not in GRANTABLE:
        raise Refusal(f"{role.label} is not a role that can be granted.",
                      "Grant one of: " + ", ".join(r.label for r in GRANTABLE) + ".")
    project = project.lower()
    if role is Role.LEAD and not project:
        raise Refusal("A lead is the lead of a project.", "Name the project: `lead <project>`.")
    if role is not Role.LEAD and project:
        raise Refusal(f"The {role.label} role is not per project.", "Leave the project out.")
    person = ensure_person(session, login, now)
    assert person.id is not None
    if _active_grant(session, person.id, role, project) is not None:
        where = f" of {project}" if project else ""
        raise Conflict(f"{person.display_login} is already {role.label}{where}.")
    grant = RoleGrant(person_id=person.id, role=role.label, project=project, source=source,
                      granted_by=actor.name, granted_at=now)
    session.add(grant)
    record(session, actor=actor, action="role.grant", target=f"github:{person.display_login}",
           at=now, reason=reason, data={"role": role.label, "project": project, "source": source})
    return grant


def revoke_role(session: Session, *, actor: Actor, login: str, role: Role, now: datetime,
                project: str = "", reason: str = "", allow_config: bool = False) -> RoleGrant:
    person = find_person(session, normalize_login(login))
    project = project.lower()
    grant = None
    if person is not None and person.id is not None:
        grant = _active_grant(session, person.id, role, project)
    if person is None or grant is None:
        where = f" of {project}" if project else ""
        raise NotFound(f"{login} does not hold the {role.label} role{where}.",
                       "`/whoami` or `/roles` show who holds what.")
    if grant.source == "config" and not allow_config:
        raise Forbidden(f"{person.display_login}'s {role.label} role comes from the config file.",
                        "Remove the login from [people] in the config and restart Roadie.")
    if role is Role.ADMIN and len(holders(session, Role.ADMIN)) <= 1:
        raise Forbidden("That would leave the org without an admin.", "Grant another admin first.")
    grant.revoked_at, grant.revoked_by = now, actor.name
    record(session, actor=actor, action="role.revoke", target=f"github:{person.display_login}",
           at=now, reason=reason, data={"role": role.label, "project": project})
    return grant


def sync_config_roles(session: Session, seeded: dict[Role, list[str]], now: datetime) -> None:
    """Make the config-seeded grants match the config: add the new, revoke the removed."""
    actor = Actor.system()
    for role, logins in seeded.items():
        wanted = {normalize_login(login).lower(): login for login in logins}
        current = session.exec(
            select(RoleGrant, Person).join(Person, col(Person.id) == RoleGrant.person_id)
            .where(RoleGrant.role == role.label, RoleGrant.source == "config",
                   col(RoleGrant.revoked_at).is_(None))
        ).all()
        present = {person.login for _, person in current}
        for _grant, person in current:
            if person.login not in wanted:
                revoke_role(session, actor=actor, login=person.login, role=role, now=now,
                            reason="no longer in the config", allow_config=True)
        for key, login in wanted.items():
            if key in present:
                continue
            person = ensure_person(session, login, now)
            assert person.id is not None
            if _active_grant(session, person.id, role, "") is None:
                grant_role(session, actor=actor, login=login, role=role, now=now,
                           reason="seeded from the config", source="config")


# --- linking ----------------------------------------------------------------------------


def new_link_code() -> str:
    return "roadie-link-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def start_link(session: Session, *, platform: str, user_id: str, display_name: str, login: str,
               now: datetime, ttl: timedelta) -> LinkCode:
    """Issue a one-time code for a chat account claiming a GitHub login."""
    login = normalize_login(login)
    identity = touch_identity(session, platform, user_id, display_name, now)
    if identity.person_id is not None:
        person = session.get(Person, identity.person_id)
        if person is not None and person.login == login.lower():
            raise Conflict(f"This account is already linked to {person.display_login}.")
    for pending in session.exec(
        select(LinkCode).where(LinkCode.platform == platform, LinkCode.user_id == user_id,
                               col(LinkCode.used_at).is_(None))
    ).all():
        session.delete(pending)
    code = LinkCode(code=new_link_code(), platform=platform, user_id=user_id, login=login.lower(),
                    created_at=now, expires_at=now + ttl)
    session.add(code)
    record(session, actor=Actor.chat(platform, user_id), action="link.start",
           target=f"github:{login}", at=now, data={"expires_at": code.expires_at.isoformat()})
    return code


def _complete_link(session: Session, code: LinkCode, actor: Actor, now: datetime,
                   how: str) -> ChatIdentity:
    person = ensure_person(session, code.login, now)
    identity = touch_identity(session, code.platform, code.user_id, "", now)
    identity.person_id, identity.linked_at, identity.linked_by = person.id, now, actor.name
    code.used_at = now
    record(session, actor=actor, action="link.confirm", target=f"github:{person.display_login}",
           at=now, data={"platform": code.platform, "user_id": code.user_id, "how": how})
    return identity


def own_text(body: str) -> str:
    """The lines a comment's author wrote themselves: not those quoted from someone else.

    A Markdown quote is a line starting with `>` (up to three spaces before it), together with
    the lines that directly follow it (Markdown carries a quote on until a blank line).
    """
    kept: list[str] = []
    quoting = False
    for line in (body or "").splitlines():
        stripped = line.lstrip(" ")
        if len(line) - len(stripped) <= 3 and stripped.startswith(">"):
            quoting = True
        elif not line.strip():
            quoting = False
            kept.append(line)
        elif not quoting:
            kept.append(line)
    return "\n".join(kept)


def confirm_link_by_comment(session: Session, *, commenter: str, body: str,
                            now: datetime) -> list[ChatIdentity]:
    """Complete every pending link whose code the claimed login wrote in its own comment.

    Only the comment's own text counts, not what it quotes: an admin who quote-replies a
    comment holding someone's code proves nothing for that someone. The caller must not pass
    comments Roadie itself wrote (a mirrored comment carries other people's text)."""
    codes = set(CODE_PATTERN.findall(own_text(body)))
    if not codes:
        return []
    rows = session.exec(
        select(LinkCode).where(col(LinkCode.code).in_(codes), col(LinkCode.used_at).is_(None),
                               LinkCode.login == commenter.lower(), LinkCode.expires_at > now)
    ).all()
    return [_complete_link(session, code, Actor.github(commenter), now, "github-comment")
            for code in rows]


def pending_link(session: Session, *, code: str, now: datetime) -> LinkCode:
    """The pending link a code stands for; refused when there is none or it expired."""
    row = session.exec(select(LinkCode).where(LinkCode.code == code.strip())).first()
    if row is None or row.used_at is not None:
        raise NotFound(f"No pending link has the code {code[:40]!r}.",
                       "Ask the person to run `/link <github-login>` and pass on the new code.")
    if row.expires_at <= now:
        raise Conflict(f"The code {row.code} expired at {row.expires_at:%Y-%m-%d %H:%M} UTC.",
                       "Ask the person to run `/link <github-login>` again for a new code.")
    return row


def confirm_link_by_admin(session: Session, *, actor: Actor, code: str, login: str,
                          now: datetime) -> ChatIdentity:
    """An admin vouches that a code's chat account is `login` on GitHub: the pair must be the
    one the code claims, so that an admin never links an account to a login unawares."""
    row = pending_link(session, code=code, now=now)
    if normalize_login(login).lower() != row.login:
        raise Conflict(f"The code {row.code} claims the GitHub login {row.login}, not {login}.",
                       f"Confirm only the pair you checked: `/link confirm {row.code} "
                       f"{row.login}`.")
    return _complete_link(session, row, actor, now, "admin")


def link_directly(session: Session, *, actor: Actor, platform: str, user_id: str,
                  display_name: str, login: str, now: datetime) -> ChatIdentity:
    """Link without proof; only for transports where the operator is the speaker (console)."""
    person = ensure_person(session, login, now)
    identity = touch_identity(session, platform, user_id, display_name, now)
    if identity.person_id != person.id:
        identity.person_id, identity.linked_at, identity.linked_by = person.id, now, actor.name
        record(session, actor=actor, action="link.confirm", target=f"github:{person.display_login}",
               at=now, data={"platform": platform, "user_id": user_id, "how": "direct"})
    return identity


def unlink(session: Session, *, actor: Actor, platform: str, user_id: str,
           now: datetime) -> ChatIdentity:
    identity = session.exec(
        select(ChatIdentity).where(ChatIdentity.platform == platform,
                                   ChatIdentity.user_id == user_id)
    ).first()
    if identity is None or identity.person_id is None:
        raise NotFound("That chat account is not linked to a GitHub login.")
    person = session.get(Person, identity.person_id)
    identity.person_id, identity.linked_at, identity.linked_by = None, None, ""
    record(session, actor=actor, action="link.remove",
           target=f"github:{person.display_login if person else '?'}", at=now,
           data={"platform": platform, "user_id": user_id})
    return identity
