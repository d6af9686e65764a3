"""The login flow (DESIGN §Architecture, §Assurance): the one place that decides, whatever the proof,
whether it starts a session, completes a pending password login or raises a live session (step-up),
with the ``amr``/``acr`` of :data:`..assurance.PROOFS`; and the password re-confirmation a logged-in
person gives before a sensitive change.

Every authentication view makes one call and follows the :class:`Step` it gets back.
"""
from __future__ import annotations

from .pending import PENDING, PENDING_SECONDS
from .service import LoginFlow
from .steps import Step

__all__ = ["PENDING", "PENDING_SECONDS", "LoginFlow", "Step"]
