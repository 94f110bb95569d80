"""The ``anomalies:`` section of a flow file: where the write guard holds or flags, which rules.

Every key is optional; a missing one keeps the default (docs/mapping.md, "Anomaly thresholds").
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["RULE_NAMES", "AnomaliesModel", "DeleteBurstModel", "UpdateBurstModel"]

RuleName = Literal[
    "not_positive", "decimal_shift", "z_hold", "max_ratio", "currency_change", "z_flag",
    "unseen_value", "delete_burst", "payment_over_outstanding", "payment_currency",
    "payment_on_draft", "payment_on_deleted", "invoice_total", "second_invoice",
    "same_day_duplicate", "update_burst",
]  # fmt: skip
RULE_NAMES: tuple[str, ...] = RuleName.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeleteBurstModel(_Strict):
    """Deletes a flow may make in the window: ``min``, or ``percent`` of its linked records."""

    min: int = Field(default=20, ge=1)
    percent: float = Field(default=2.0, gt=0, le=100)
    window_minutes: float = Field(default=15.0, gt=0, le=1440)


class UpdateBurstModel(_Strict):
    """Records a flow may write in the window before the update breaker pauses it.

    The limit is ``factor`` times that hour's usual (scaled to the window), at least
    ``min_updates``.
    """

    factor: float = Field(default=10.0, gt=1)
    window_minutes: float = Field(default=15.0, gt=0, le=1440)
    min_updates: int = Field(default=100, ge=1)


class AnomaliesModel(_Strict):
    """The ``anomalies:`` section."""

    z_hold: float = Field(default=6.0, gt=0)
    z_flag: float = Field(default=3.5, gt=0)
    max_ratio: float = Field(default=10.0, gt=1)
    delete_burst: DeleteBurstModel = Field(default_factory=DeleteBurstModel)
    update_burst: UpdateBurstModel = Field(default_factory=UpdateBurstModel)
    disable: list[RuleName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _flag_below_hold(self) -> Self:
        if self.z_flag >= self.z_hold:
            msg = f"z_flag ({self.z_flag:g}) must be below z_hold ({self.z_hold:g})"
            raise ValueError(msg)
        return self
