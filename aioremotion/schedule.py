"""How often a watch polls: :class:`PollPolicy` and :class:`PollSchedule`.

They live in the pure core (:mod:`aioremotion.protocol.schedule`); this module is their
public home.

Example:
    >>> from aioremotion.schedule import PollPolicy
    >>> PollPolicy.cheap().cap_s >= PollPolicy.default().cap_s
    True
"""

from __future__ import annotations

from .protocol.schedule import PollPolicy, PollSchedule

__all__ = ["PollPolicy", "PollSchedule"]
