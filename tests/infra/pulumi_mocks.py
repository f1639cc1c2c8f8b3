"""The Pulumi program under `pulumi.runtime.Mocks`: the engine is the only stand-in (no Pulumi CLI or
Kubernetes provider can be built here); `deploy` returns every resource the program registered.
Used by tests/infra (no cluster) and tests/e2e (the program's auto settings ask a real one)."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi

from infra.program import run


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


def deploy(config: dict[str, str], stack: str = "test") -> list[pulumi.runtime.MockResourceArgs]:
    """Run the program with `config` and return every resource it registered."""
    recorder = Recorder()
    # Earlier tests may have run asyncio.run(), which leaves no current loop; the mocks need one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(recorder, project="peakops", stack=stack, preview=False)
    pulumi.runtime.set_all_config(config, [k for k in config if k.endswith(("adminToken", "databaseUrl"))])

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        components = run()
        return pulumi.Output.all(*[r.urn for c in components.values() for r in c.resources.values()])

    program()
    return recorder.resources
