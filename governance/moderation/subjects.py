"""Who a block is aimed at: every account Roadie knows of the target, and who may not be blocked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from governance.errors import Forbidden
from governance.people.models import ChatIdentity, Person
from governance.people.roles import Role
from governance.people.service import ANONYMOUS, Profile, accounts_of, find_person, profile_of

GITHUB = "github"


@dataclass(frozen=True)
class Account:
    """One account on one platform: a GitHub login (stored lower-case) or a chat user id."""

    platform: str
    account: str
    display: str = ""

    @property
    def label(self) -> str:
        shown = self.display or self.account
        return shown if self.platform == GITHUB else f"{self.platform}:{shown}"

    @property
    def key(self) -> tuple[str, str]:
        return self.platform, self.account


@dataclass(frozen=True)
class Subject:
    """A target with all its known accounts; `profile` is the linked person's, if any."""

    label: str
    accounts: tuple[Account, ...]
    profile: Profile = ANONYMOUS

    @property
    def login(self) -> str | None:
        """The GitHub login, when one is known."""
        for account in self.accounts:
            if account.platform == GITHUB:
                return account.display or account.account
        return None

    @property
    def chat_accounts(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.platform != GITHUB)

    def only(self, platforms: Iterable[str]) -> Subject:
        wanted = set(platforms)
        return Subject(self.label, tuple(a for a in self.accounts if a.platform in wanted),
                       self.profile)


def github_account(login: str, display: str = "") -> Account:
    return Account(GITHUB, login.lower(), display or login)


def _with_person(session: Session, label: str, person: Person) -> Subject:
    assert person.id is not None
    accounts = [github_account(person.login, person.display_login)]
    accounts += [Account(a.platform, a.user_id, a.display_name)
                 for a in accounts_of(session, person.id)]
    return Subject(label, tuple(accounts), profile_of(session, person))


def resolve(session: Session, platform: str, account: str) -> Subject:
    """Every account of a target: linked identities count as one person."""
    if platform == GITHUB:
        person = find_person(session, account)
        if person is None:
            return Subject(account, (github_account(account),))
        return _with_person(session, account, person)
    identity = session.exec(
        select(ChatIdentity).where(ChatIdentity.platform == platform,
                                   ChatIdentity.user_id == account)
    ).first()
    label = f"{platform}:{account}"
    if identity is not None and identity.person_id is not None:
        person = session.get(Person, identity.person_id)
        if person is not None:
            return _with_person(session, label, person)
    display = identity.display_name if identity is not None else ""
    return Subject(label, (Account(platform, account, display),))


@dataclass(frozen=True)
class Requester:
    """Who asks for a block: a linked person, a chat account, or Roadie itself."""

    name: str
    """The audit actor name, e.g. `github:bob`."""
    chat: tuple[str, str] | None = None
    person_id: int | None = None


def refuse_protected(subject: Subject, requester: Requester, bot_login: str) -> None:
    """Refuse to block oneself, Roadie, an admin or a moderator; say how to do it right."""
    own = requester.person_id is not None and subject.profile.person_id == requester.person_id
    if own or (requester.chat is not None and requester.chat in {a.key for a in subject.accounts}):
        raise Forbidden("You cannot block yourself.",
                        "Check the target: a GitHub login, or a chat mention.")
    if any(a.platform == GITHUB and a.account == bot_login.lower() for a in subject.accounts):
        raise Forbidden(f"{subject.label} is Roadie itself; Roadie does not block itself.",
                        "If Roadie misbehaves, an org admin can stop it or remove its token.")
    for role in (Role.ADMIN, Role.MODERATOR):
        if role in subject.profile.roles:
            login = subject.profile.login
            if role in subject.profile.seeded:
                hint = (f"The role comes from the config file: if the account is compromised, "
                        f"an admin removes {login} from `{role.label}s` under [people] in the "
                        "config and restarts Roadie, then blocks it.")
            else:
                hint = (f"If the account is compromised, an admin first runs `/revoke "
                        f"{login} {role.label}`, then blocks it.")
            raise Forbidden(
                f"{subject.label} is {'an' if role is Role.ADMIN else 'a'} {role.label}; "
                f"{role.label}s cannot be blocked.", hint)
