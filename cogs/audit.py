"""The audit log from outside: signed checkpoints, published where the database cannot take
them back, and proofs that an entry is in a signed log.

A checkpoint is signed at every decision (`audit.decisions`) and at least every
`audit.checkpoint_every` while entries come in. It goes to the `audit` destination (the
modlog when there is none), to `audit.checkpoints_file`, and as a comment on
`audit.github_issue` of `audit.github_repo` when they are set.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from sqlmodel import Session

from bot.config import AuditSection
from bot.core.cog import Cog, Job
from bot.core.commands import Arg, Invocation, command
from bot.core.messages import Message
from bot.core.ports import PlatformError
from governance.audit import checkpoints
from governance.audit.checkpoints import ChainBroken, Checkpoint
from governance.audit.proofs import prove
from governance.durations import parse_duration
from governance.errors import Refusal
from governance.people.roles import Role

SWEEP_EVERY = parse_duration("30s")
CATCH_UP = 50_000  # entries hashed per transaction before the one that signs
PER_COMMENT = 100  # checkpoints in one GitHub comment (a comment holds 65,536 characters)
NO_KEY = ("Roadie has no audit key, so it signs no checkpoints.",
          "An admin makes one with `roadie audit keygen` and names it in `[audit] key_file` "
          "(or the variable of `key_env`).")


def checkpoint_message(checkpoint: Checkpoint) -> Message:
    return Message(
        title=f"Audit checkpoint: {checkpoint.size} entries",
        body=(f"Roadie signed its audit log as it stands: {checkpoint.size} entries, Merkle "
              f"root `{checkpoint.root[:16]}…`. Keep the line below: `roadie audit verify "
              "--checkpoints FILE --key PUBLIC-KEY` checks any copy of the log against it.\n"
              f"```\n{checkpoint.line()}\n```"),
        footer=f"key {checkpoint.key_id}")


def _largest_in(path: Path) -> int:
    known = Checkpoint.parse_all(path.read_text(encoding="utf-8")) if path.exists() else []
    return max((c.size for c in known), default=0)


def _append(path: Path, fresh: list[Checkpoint]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.writelines(c.line() + "\n" for c in fresh)


class AuditCog(Cog):
    name = "audit"
    Settings = AuditSection

    settings: AuditSection

    def jobs(self) -> list[Job]:
        return [Job("audit.checkpoint", self.checkpoint, every=SWEEP_EVERY)]

    @property
    def destination(self) -> str:
        wanted = self.settings.destination
        return wanted if wanted in self.ctx.destinations.names else "modlog"

    # --- signing and publishing ------------------------------------------------------------

    async def checkpoint(self) -> None:
        key = self.ctx.audit_key
        if key is None:
            return
        now = self.ctx.clock.now()
        origin = self.settings.origin or f"{self.ctx.org} roadie audit log"

        def sign(session: Session) -> Checkpoint | None:
            signed = checkpoints.sign_checkpoint(session, key, origin=origin, now=now,
                                                 progress=progress)
            if signed is not None:
                self.ctx.outbox.post(session, self.destination, checkpoint_message(signed),
                                     key=f"audit:checkpoint:{signed.size}")
            return signed

        try:
            if not await self.ctx.db.run(lambda session: checkpoints.due(
                    session, now=now, every=self.settings.checkpoint_every,
                    decisions=self.settings.decisions)):
                return
            progress = await self._catch_up()
            signed = await self.ctx.db.run(sign)
        except ChainBroken as broken:
            await self._report_broken(broken)
            return
        if signed is not None:
            await self._write_file()
        await self._post_to_github()

    async def _catch_up(self) -> checkpoints.Progress:
        """Hash a long way behind (the first checkpoint of a big log) in transactions of
        their own, so that the one that signs holds the head, and appends, only briefly."""
        progress = await self.ctx.db.run(checkpoints.resume)
        while await self.ctx.db.run(checkpoints.head_size) - progress.size > CATCH_UP:
            progress = await self.ctx.db.run(partial(checkpoints.advance, progress=progress,
                                              upto=progress.size + CATCH_UP))
        return progress

    async def _report_broken(self, broken: ChainBroken) -> None:
        alarm = Message(title="The audit log is broken: no checkpoint signed", tone="danger",
                        body=(f"{broken.problem}. Roadie signs nothing over a broken log. "
                              "`roadie audit verify` shows what changed."))
        await self.ctx.db.run(lambda session: self.ctx.outbox.post(
            session, "admins", alarm, key=f"audit:broken:{broken.seq}"))
        self.log.error("audit log broken at entry %s: %s", broken.seq, broken.problem)

    async def _write_file(self) -> None:
        """Append the checkpoints the file lacks; the file only ever grows."""
        if not self.settings.checkpoints_file:
            return
        path = Path(self.settings.checkpoints_file)
        have = await asyncio.to_thread(_largest_in, path)
        fresh = await self.ctx.db.run(partial(checkpoints.since, size=have))
        if fresh:
            await asyncio.to_thread(_append, path, fresh)

    async def _post_to_github(self) -> None:
        repo, issue = self.settings.github_repo, self.settings.github_issue
        if not (repo and issue) or self.ctx.github is None:
            return
        waiting = (await self.ctx.db.run(checkpoints.unposted_to_github))[:PER_COMMENT]
        if not waiting:
            return
        lines = "\n".join(c.line() for c in waiting)
        body = (f"Roadie audit checkpoint{'s' if len(waiting) > 1 else ''}: "
                f"{', '.join(str(c.size) for c in waiting)} entries\n\n```\n{lines}\n```")
        try:
            await self.ctx.github.comment_issue(repo, issue, body)
        except PlatformError as error:
            self.log.warning("checkpoints not posted to %s#%s yet (%s); retrying",
                             repo, issue, error.detail)
            return
        await self.ctx.db.run(lambda session: checkpoints.posted_to_github(
            session, [c.size for c in waiting]))

    # --- commands ------------------------------------------------------------------------

    @command("audit key", "Show the public key that signs the audit log's checkpoints",
             role=Role.ANYONE)
    async def key(self, call: Invocation) -> str:
        if self.ctx.audit_key is None:
            raise Refusal(*NO_KEY)
        return (f"Roadie signs its audit checkpoints with this key (keep it; it is what "
                f"proves a checkpoint is ours):\n`{self.ctx.audit_key.public.text()}`")

    @command("audit checkpoint", "Show the latest signed checkpoint of the audit log",
             role=Role.ANYONE)
    async def latest(self, call: Invocation) -> Message | str:
        found = await self.ctx.db.run(lambda session: checkpoints.latest(session, 1))
        if not found:
            return "No checkpoint has been signed yet."
        return checkpoint_message(found[0])

    @command("audit proof", "Prove that an audit entry is in the signed log",
             Arg("entry", "the entry's number", kind="int"), role=Role.MEMBER)
    async def proof(self, call: Invocation, entry: int) -> str:
        proof = await self.ctx.db.run(lambda session: prove(session, entry))
        found = proof.entry
        if not proof.holds():
            raise Refusal(f"Entry {entry} does not lead to the root signed for "
                          f"{proof.checkpoint.size} entries: the log was changed since.",
                          "Tell an admin; `roadie audit verify` shows what changed.")
        path = "\n".join(proof.path) or "(none: the entry is the whole tree)"
        return (f"Entry {found.seq} ({found.action} on {found.target} by {found.actor}, "
                f"{found.at:%Y-%m-%d %H:%M:%S} UTC) is leaf {found.seq - 1} of the "
                f"{proof.checkpoint.size} entries signed at "
                f"{proof.checkpoint.at:%Y-%m-%d %H:%M:%S} UTC.\n"
                f"Entry hash: `{found.hash}`\nSigned root: `{proof.checkpoint.root}`\n"
                f"Inclusion path (RFC 9162, nearest sibling first):\n```\n{path}\n```\n"
                f"`roadie audit proof {found.seq}` checks the same from an exported log.")


COG = AuditCog
