"""``trustecon serve WS`` (the HTTP API and dashboard under uvicorn) and ``trustecon keys add|list|remove``."""

from __future__ import annotations

from pathlib import Path

import typer

from trustecon.cli._app import EngineOpt, JsonOpt, app, console, fail, open_workspace, print_json

__all__: list[str] = []

keys_app = typer.Typer(help="API keys of a workspace (stored as hashes in api_keys.json).")
app.add_typer(keys_app, name="keys")


_open = open_workspace


@app.command()
def serve(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    engine: str = EngineOpt,
    k_anonymity: int | None = typer.Option(
        None,
        "--k-anonymity",
        help="Minimum audience group size shown outside admin (default: [api] in trustecon.toml, else 10).",
    ),
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the dashboard (/dashboard) over WORKSPACE."""
    if not 0 <= port <= 65535:
        fail(f"--port {port}: must be between 0 and 65535")
    try:
        import uvicorn

        from trustecon.api import create_app
    except ImportError as exc:
        fail(f"the HTTP API needs the serve extra: pip install 'trustecon[serve]' ({exc})")
    ws = _open(workspace)
    try:
        api = create_app(ws, engine=engine, k_anonymity=k_anonymity)
    except ValueError as exc:
        fail(str(exc))
    # Bind before saying where we serve: a port in use is a one-line error, and --port 0 prints the
    # port the system chose. uvicorn then serves on this very socket.
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    port = sock.getsockname()[1]
    console.print(f"serving {workspace} on http://{host}:{port} (dashboard: /dashboard, API docs: /docs)")
    from trustecon.api.keys import KeyStore

    if not KeyStore.load(ws).listing():
        console.print(
            f"note: {workspace} has no API keys, so every endpoint but /health answers 401; "
            f"create one with 'trustecon keys add {workspace} --role admin'",
            highlight=False,
        )
    uvicorn.Server(uvicorn.Config(api, log_level="warning")).run(sockets=[sock])


@keys_app.command("add")
def keys_add(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    role: str = typer.Option(..., "--role", help="admin, brand, creator or user."),
    id: int | None = typer.Option(None, "--id", help="The brand/creator/user id (not for admin)."),
    note: str = typer.Option("", "--note", help="A label to recognise the key by."),
    as_json: bool = JsonOpt,
) -> None:
    """Create a key; it is printed once (only its hash is stored)."""
    from trustecon.api.keys import ApiKeyError, KeyStore

    ws = _open(workspace)
    store = KeyStore.load(ws)
    try:
        key, p = store.add(role, id, note)
    except ApiKeyError as exc:
        fail(str(exc))
    store.save(ws)
    if as_json:
        print_json({"key": key, "key_id": p.key_id, "role": p.role, "id": p.id})
    else:
        console.print(f"{p.role} key {p.key_id}" + (f" for id {p.id}" if p.id is not None else "") + ":")
        console.print(key, highlight=False, soft_wrap=True)
        console.print("[dim]shown once: only its hash is stored[/]")


@keys_app.command("list")
def keys_list(workspace: Path = typer.Argument(..., help="Workspace folder."), as_json: bool = JsonOpt) -> None:
    """Key ids with role, id, creation time and note (never the keys)."""
    from rich.table import Table

    from trustecon.api.keys import KeyStore

    rows = KeyStore.load(_open(workspace)).listing()
    if as_json:
        print_json({"keys": rows})
        return
    t = Table(title=f"API keys of {workspace}")
    for c in ("key_id", "role", "id", "created", "note"):
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if r[c] is None else str(r[c]) for c in ("key_id", "role", "id", "created", "note")))
    console.print(t)


@keys_app.command("remove")
def keys_remove(
    workspace: Path = typer.Argument(..., help="Workspace folder."),
    key_id: str = typer.Argument(..., help="The key id (see 'trustecon keys list')."),
) -> None:
    """Revoke a key."""
    from trustecon.api.keys import ApiKeyError, KeyStore

    ws = _open(workspace)
    store = KeyStore.load(ws)
    try:
        store.remove(key_id)
    except ApiKeyError as exc:
        fail(str(exc))
    store.save(ws)
    console.print(f"removed key {key_id}")
