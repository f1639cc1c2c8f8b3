"""The generator baseline: a plain FastHttpUser fetching one small static file, no think time."""

from __future__ import annotations

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class PlainUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def static_file(self) -> None:
        self.client.get("/static.txt")
