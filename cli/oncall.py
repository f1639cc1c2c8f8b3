"""`peakops oncall ...`: the local alert inbox that Alertmanager's receivers deliver to."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

oncall_commands = typer.Typer(no_args_is_help=True, help="On-call: the local alert inbox.")
DEFAULT_STORE = Path.home() / ".local" / "state" / "peakops" / "inbox.jsonl"


@oncall_commands.command("inbox")
def inbox(
    listen: Annotated[str, typer.Option(help="host:port to receive webhooks on.")] = "127.0.0.1:9095",
    store: Annotated[Path, typer.Option(help="JSON Lines file every notification is appended to.")] = (
        DEFAULT_STORE
    ),
) -> None:
    """Receive Alertmanager's webhook, Slack and PagerDuty notifications and record each one."""
    from monitors.inbox import Store, serving

    host, _, port = listen.rpartition(":")
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    with serving(host or "127.0.0.1", int(port), Store(store)):
        typer.echo(f"inbox: listening on {listen}, recording to {store}", err=True)
        stop.wait()


@oncall_commands.command("show")
def show(
    store: Annotated[Path, typer.Option(help="The inbox's JSON Lines file.")] = DEFAULT_STORE,
    url: Annotated[
        str | None, typer.Option(help="Read from a running inbox instead (http://host:port).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
) -> None:
    """Show what the inbox received, oldest first."""
    import httpx

    from monitors.inbox import Store, summarize

    records = Store(store).read() if url is None else httpx.get(f"{url.rstrip('/')}/notifications").json()
    summaries = [summarize(record) for record in records]
    if as_json:
        typer.echo(json.dumps([s.__dict__ for s in summaries], indent=2))
        return
    table = Table(title=f"{len(summaries)} notifications")
    for column in ("received", "receiver", "kind", "status", "alerts", "detail"):
        table.add_column(column)
    for s in summaries:
        received = datetime.fromtimestamp(s.received_at, UTC).strftime("%H:%M:%S")
        table.add_row(received, s.receiver, s.kind, s.status, s.alerts, s.detail)
    Console().print(table)
