"""Every table Roadie keeps. Importing this module registers all models with the metadata."""

from __future__ import annotations

from sqlalchemy import MetaData, Table
from sqlmodel import SQLModel

from governance.audit import checkpoints as _checkpoints  # noqa: F401
from governance.audit import log as _audit  # noqa: F401
from governance.digest import models as _digest  # noqa: F401
from governance.escalations import models as _escalations  # noqa: F401
from governance.feed import models as _feed  # noqa: F401
from governance.inbox import models as _inbox  # noqa: F401
from governance.moderation import models as _moderation  # noqa: F401
from governance.onboarding import models as _onboarding  # noqa: F401
from governance.outbox import models as _outbox  # noqa: F401
from governance.people import models as _people  # noqa: F401
from governance.projects import models as _projects  # noqa: F401
from governance.scheduling import models as _scheduling  # noqa: F401
from governance.votes import models as _votes  # noqa: F401

metadata: MetaData = SQLModel.metadata


def tables() -> list[Table]:
    return list(metadata.sorted_tables)
