"""Process-wide switches every instance must agree on (the rollback kill switch)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from leadsync.db.base import Base, updated_at
from leadsync.db.types import JSONType


class AppSetting(Base):
    __tablename__ = "app_setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = updated_at()
