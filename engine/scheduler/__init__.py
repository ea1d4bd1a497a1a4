"""Due items in Redis, claimed with a lease, fired by any number of workers exactly once."""

from engine.scheduler.queue import Claimed, DueQueue
from engine.scheduler.worker import Handler, Worker

__all__ = ["Claimed", "DueQueue", "Handler", "Worker"]
