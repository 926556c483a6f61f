"""`advnets serve`: a local, read-only web page over run folders and generator files (the web
extra: Starlette and uvicorn)."""

from __future__ import annotations

from pathlib import Path

from advnets.errors import ArgumentError


def serve(
    root: str | Path, host: str = "127.0.0.1", port: int = 8000, data_dir: str | None = None
) -> None:
    """Serve the page until Ctrl-C (uvicorn then finishes the requests under way and stops)."""
    try:
        import uvicorn

        from advnets.web.app import create_app
    except ImportError as err:
        raise ArgumentError(
            f"advnets serve needs the web extra ({err.name} is missing): pip install 'advnets[web]'"
        ) from None
    root = Path(root)
    if not root.exists():
        raise ArgumentError(
            f"{root} does not exist: give a folder of runs, a run folder or a generator file"
        )

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started:  # listening, with Ctrl-C caught: say where (port 0: the one given)
                bound = self.servers[0].sockets[0].getsockname()[1]
                print(
                    f"advnets: serving {root} at http://{host}:{bound}/ (Ctrl-C stops)", flush=True
                )

    app = create_app(root, data_dir)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    try:
        Server(config).run()
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C it caught once it has stopped
        pass
    print("advnets: stopped", flush=True)
