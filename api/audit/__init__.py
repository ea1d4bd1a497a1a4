"""The audit trail: who changed what in a tenant, when, from where (api/audit/record.py says what an entry holds).

Other packages call ``await audit.record(runtime, caller, Action.X, target=..., diff=...)`` after a change.
"""

from api.audit.record import SYSTEM, Action, Source, record

__all__ = ["SYSTEM", "Action", "Source", "record"]
