"""The session's spending limits: max_images and max_cost, checked before a request is sent."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BudgetExceededError


@dataclass(frozen=True)
class Budget:
    """The limits a request was planned under (its profile's max_images, else the session's)."""

    max_images: int = 0
    max_cost: float = 0.0
    prices: dict | None = None

    def check(self, history, n: int, *, reserved: int = 0, asking: str = "this request asks") -> None:
        check_budget(history, n, reserved=reserved, max_images=self.max_images, max_cost=self.max_cost,
                     prices=self.prices, asking=asking)


def check_budget(history, n: int, *, reserved: int = 0, max_images: int = 0, max_cost: float = 0.0,
                 prices: dict | None = None, asking: str = "this request asks") -> None:
    """BudgetExceededError if ``n`` more images (beyond ``reserved`` ones in flight) break a limit.

    Reads the history's running totals: the same cost at the first request and the 100,000th.
    ``asking``: what asks for the ``n`` images, in the message ("this request asks", "these 3 requests ask").
    """
    if not max_images and not (max_cost and prices):
        return
    used = history.totals(prices)
    taken = used["images"] + reserved
    if max_images and taken + n > max_images:
        if taken >= max_images:
            raise BudgetExceededError(f"this session's image budget is used up: {taken} of max_images={max_images} "
                                      "images. Raise it with %config WisGate.max_images = N (0 = no limit).")
        left = max_images - taken
        raise BudgetExceededError(f"{asking} for {n} images, but only {left} of this session's "
                                  f"max_images={max_images} are left ({taken} used): ask for n={left} or fewer, "
                                  "or raise it with %config WisGate.max_images = N (0 = no limit).")
    spent = used["cost"] or 0.0
    if max_cost and prices and spent >= max_cost:
        raise BudgetExceededError(
            f"the estimated cost so far ({spent:.2f}) has reached max_cost={max_cost:g}. "
            "Raise it with %config WisGate.max_cost = X (0 = no limit)."
        )
