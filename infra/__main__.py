"""`pulumi up` entry point: read the stack config, create the components, export what they made."""

from infra.program import run

run()
