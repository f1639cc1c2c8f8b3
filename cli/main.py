from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli import demo, generate, loadtest, rehearse, stack
from cli.oncall import oncall_commands
from cli.plan import plan_commands
from cli.slo import slo_commands

app = typer.Typer(
    no_args_is_help=True, help="peakops: get an e-commerce campaign through an influencer spike."
)
app_commands = typer.Typer(no_args_is_help=True, help="The campaign app.")
app.add_typer(app_commands, name="app")
app.add_typer(plan_commands, name="plan")
app.add_typer(slo_commands, name="slo")
app.add_typer(oncall_commands, name="oncall")
k8s_commands = typer.Typer(no_args_is_help=True, help="Kubernetes manifests (k8s/), from infra/manifests.")
app.add_typer(k8s_commands, name="k8s")


@k8s_commands.command("render")
def render_k8s() -> None:
    """Rewrite k8s/ (base and one overlay per stack) from the builders the Pulumi program uses."""
    from infra.config import ConfigError
    from infra.render import write
    from peakops.paths import K8S_DIR

    try:
        changed = write()
    except ConfigError as exc:
        typer.echo(f"error: invalid stack config\n{exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {K8S_DIR}" if changed else f"{K8S_DIR}: unchanged")


@k8s_commands.command("images")
def list_images() -> None:
    """Every image the manifests name, one per line: reference, Dockerfile, base, Go binaries it needs
    (tab-separated; `make images` builds them from this list)."""
    from infra.images import builds, every_workload

    for reference, image in builds(every_workload()):
        typer.echo("\t".join((reference, image.dockerfile, image.base, ",".join(image.binaries))))


StackOption = Annotated[str, typer.Option("--stack", "-s", help="The Pulumi stack (Pulumi.<stack>.yaml).")]


def _automation(stack: str) -> Any:
    from infra.automation import select_stack

    try:
        return select_stack(stack)
    except Exception as exc:
        typer.echo(f"error: cannot open stack {stack!r}: {exc}", err=True)
        raise typer.Exit(1) from None


@k8s_commands.command("preview")
def preview_stack(stack: StackOption = "dev") -> None:
    """`pulumi preview` of the program through the Automation API (no Python language host needed)."""
    result = _automation(stack).preview(on_output=typer.echo, color="never")
    typer.echo(f"change summary: {dict(result.change_summary)}")


@k8s_commands.command("up")
def up_stack(stack: StackOption = "dev") -> None:
    """`pulumi up` of the program through the Automation API (no Python language host needed)."""
    result = _automation(stack).up(on_output=typer.echo, color="never")
    typer.echo(f"{result.summary.result}: {dict(result.summary.resource_changes or {})}")


@k8s_commands.command("destroy")
def destroy_stack(stack: StackOption = "dev") -> None:
    """`pulumi destroy` of the stack through the Automation API."""
    result = _automation(stack).destroy(on_output=typer.echo, color="never")
    typer.echo(f"{result.summary.result}: {dict(result.summary.resource_changes or {})}")


app.command("demo")(demo.demo)
app.command("rehearse")(rehearse.rehearse)
app.command("generate")(generate.generate)
app.command("loadtest")(loadtest.loadtest)
app.command("up")(stack.up)
app.command("down")(stack.down)
app.command("status")(stack.status)


@app_commands.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=1, max=65535)] = 8000,
) -> None:
    """Run one app instance (uvicorn, uvloop, httptools). Configure it with PEAKOPS_* variables."""
    from pydantic import ValidationError

    from app.catalog import CatalogError
    from app.server import serve as run_server
    from app.settings import Settings

    try:
        settings = Settings()
        run_server(host, port, settings)
    except ValidationError as exc:
        for problem in exc.errors():
            field = "PEAKOPS_" + "_".join(str(p) for p in problem["loc"]).upper()
            typer.echo(f"error: {field}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None
    except CatalogError as exc:
        # Plain text, never wrapped: the message names a file path a person or a tool will copy.
        typer.echo(f"error: invalid catalog seed\n{exc}", err=True)
        raise typer.Exit(2) from None


@app_commands.command("check-catalog")
def check_catalog(path: Annotated[Path, typer.Argument(help="Catalog seed YAML.")]) -> None:
    """Validate a catalog seed without starting anything."""
    from app.catalog import CatalogError, load_catalog

    try:
        seed = load_catalog(path)
    except CatalogError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    # One plain line: a status a script may read, never wrapped at a console width (a long path would).
    typer.echo(f"{path}: {len(seed.products)} products, {len(seed.influencers)} influencers: ok")
