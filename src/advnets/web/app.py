"""The web page of `advnets serve`: a Starlette app over a folder of runs and generator files.

Read-only: it opens run folders and generator files to read them and writes nothing anywhere.
Every request is bounded: GET and HEAD only, no request body, a short query string, at most
MAX_SAMPLES images per picture (and MAX_PIXELS pixels), and at most GENERATION_SLOTS pictures
drawn at once (a request that waits longer than SLOT_WAIT_S for a slot is answered 503).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import anyio
import torch
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from advnets.errors import AdvnetsError, ArgumentError, CheckpointNotFound, NotApplicable
from advnets.web import catalogue

STATIC = Path(__file__).parent / "static"
MAX_SAMPLES = 256  # images in one picture
MAX_PIXELS = 4 << 20  # generated pixels in one picture (before enlarging)
MAX_STEPS = 16  # images of an interpolation
MAX_NEIGHBOUR_ROWS = 8
MAX_QUERY = 2_048  # bytes of a query string
GENERATION_SLOTS = 2
SLOT_WAIT_S = 30.0
LOADED_GENERATORS = 4  # generators kept in memory (least recently used dropped)
LOADED_DATA = 2  # training sets kept for the nearest-neighbour view
MAX_SEED = 2**63 - 1


def _param(request: Request, name: str, kind: type, default: Any, lo=None, hi=None) -> Any:
    """A query parameter of type `kind`, `default` when absent, within [lo, hi]."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ArgumentError(f"{name} = {text!r}: expected a {kind.__name__}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ArgumentError(f"{name} = {text!r}: expected a finite number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ArgumentError(f"{name} = {value}: expected {lo} to {hi}")
    return value


def _noise_params(request: Request) -> tuple[float, int | None]:
    """The truncation ψ and the class every picture of G takes."""
    psi = _param(request, "truncation", float, 1.0, 0.01, 1.0)
    return psi, _param(request, "label", int, None, 0)


class _Cache:
    """A small least-recently-used cache, safe across the threads pictures are drawn in."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


class Server:
    """The app's state: the served folder, the loaded generators, the generation slots."""

    def __init__(self, root: Path, data_dir: str | None = None):
        self.root, self.data_dir = Path(root), data_dir
        self.generators = _Cache(LOADED_GENERATORS)
        self.data = _Cache(LOADED_DATA)
        self.slots = anyio.Semaphore(GENERATION_SLOTS)

    # -- what a request names ---------------------------------------------------------------

    def entry(self, request: Request) -> catalogue.Entry:
        name = request.path_params["name"]
        found = catalogue.entries(self.root).get(name)
        if found is None:
            raise CheckpointNotFound(f"no run or generator file named {name!r} is served here")
        return found

    def generator(self, request: Request):
        from advnets.sample import load_generator

        entry = self.entry(request)
        checkpoint = request.query_params.get("checkpoint") or None
        weights = request.query_params.get("weights", "average")
        if weights not in ("average", "last"):
            raise ArgumentError(f"weights = {weights!r}: expected average or last")
        source = catalogue.checkpoint_source(entry, checkpoint)
        average = weights == "average"
        if entry.kind == "file":
            average = True  # a file holds one set of weights, whichever it is
        trained = self.generators.get(
            (str(source), average), lambda: load_generator(source, average=average)
        )
        return entry, trained

    async def draw(self, make) -> Response:
        """A PNG drawn by `make()` in a worker thread, in one of the generation slots."""
        with anyio.move_on_after(SLOT_WAIT_S) as waited:
            await self.slots.acquire()
        if waited.cancelled_caught:
            return _error(503, "every generation slot is busy: try again in a moment")
        try:
            png = await anyio.to_thread.run_sync(make)
        finally:
            self.slots.release()
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    # -- the endpoints ------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def list_entries(self, request: Request) -> Response:
        found = catalogue.entries(self.root)
        rows = await anyio.to_thread.run_sync(lambda: [_summary(e) for e in found.values()])
        return JSONResponse({"root": self.root.name, "entries": rows})

    async def curves(self, request: Request) -> Response:
        entry = self.entry(request)
        return JSONResponse(await anyio.to_thread.run_sync(catalogue.curves, entry))

    async def grids(self, request: Request) -> Response:
        return JSONResponse({"grids": catalogue.grids(self.entry(request))})

    async def grid(self, request: Request) -> Response:
        path = catalogue.grid_path(self.entry(request), request.path_params["grid"])
        return FileResponse(path, media_type="image/png")

    async def model(self, request: Request) -> Response:
        """What the generator panel needs: classes, image shape, the weights it holds."""
        entry, trained = await anyio.to_thread.run_sync(self.generator, request)
        return JSONResponse({
            "name": entry.name,
            "step": trained.step,
            "averaged": trained.averaged,
            "num_classes": trained.num_classes,
            "image_shape": list(trained.image_shape) if trained.image_shape else None,
            "card": trained.card,
        })  # fmt: skip

    async def samples(self, request: Request) -> Response:
        n = _param(request, "n", int, 64, 1, MAX_SAMPLES)
        seed = _param(request, "seed", int, 0, 0, MAX_SEED)
        psi, label = _noise_params(request)

        def make() -> bytes:
            _, trained = self.generator(request)
            _check_pixels(trained, n)
            x = trained.sample(n, seed=seed, label=label, truncation=psi)
            return _picture(trained, x, nrow=None)

        return await self.draw(make)

    async def interpolation(self, request: Request) -> Response:
        a = _param(request, "seed_a", int, 0, 0, MAX_SEED)
        b = _param(request, "seed_b", int, 1, 0, MAX_SEED)
        steps = _param(request, "steps", int, 10, 2, MAX_STEPS)
        psi, label = _noise_params(request)

        def make() -> bytes:
            _, trained = self.generator(request)
            _need_images(trained, "an interpolation")
            za, ca = trained.noise(1, a, label, psi)
            zb, _ = trained.noise(1, b, label, psi)
            t = torch.linspace(0, 1, steps)[:, None]
            z = za * (1 - t) + zb * t  # the straight line from seed a's noise to seed b's
            c = None if ca is None else ca.expand(steps)
            with torch.no_grad():
                x = trained.G(z, c).cpu()
            return _picture(trained, x, nrow=steps)

        return await self.draw(make)

    async def neighbours(self, request: Request) -> Response:
        rows = _param(request, "rows", int, 4, 1, MAX_NEIGHBOUR_ROWS)
        cols = _param(request, "cols", int, 6, 2, MAX_NEIGHBOUR_ROWS)
        seed = _param(request, "seed", int, 0, 0, MAX_SEED)
        psi, label = _noise_params(request)

        def make() -> bytes:
            from advnets.figures.grid import png_bytes
            from advnets.figures.neighbours import neighbour_figure

            _, trained = self.generator(request)
            _need_images(trained, "the nearest-neighbour view")
            train = self.training_images(trained.config.data)
            x = trained.sample(rows * (cols - 1), seed=seed, label=label, truncation=psi)
            rgb, _ = neighbour_figure(
                x, train, trained.image_shape, rows, cols, scale=_scale(trained)
            )
            return png_bytes(rgb)

        return await self.draw(make)

    def training_images(self, data) -> torch.Tensor:
        """The training split a model was trained on, read as its run read it, never
        downloaded: a model whose data is not on this machine has no neighbour view."""
        from advnets.data import from_config

        data = dataclasses.replace(data, download=False)
        key = json_key(dataclasses.asdict(data))
        try:
            return self.data.get(
                key, lambda: from_config(data, "train", self.data_dir, progress=False).x
            )
        except AdvnetsError as err:
            raise NotApplicable(f"the training images are not on this machine ({err})") from None


def _summary(entry: catalogue.Entry) -> dict:
    """An entry's summary, or what is wrong with it: one damaged run does not hide the others."""
    try:
        return catalogue.summary(entry)
    except (AdvnetsError, OSError, ValueError, KeyError) as err:
        return {"name": entry.name, "kind": entry.kind, "error": str(err)}


def json_key(d: dict) -> str:
    return json.dumps(d, sort_keys=True)


def _need_images(trained, what: str) -> None:
    if not trained.image_shape:
        raise NotApplicable(f"{what} is drawn for images, and this model's samples are points")


def _check_pixels(trained, n: int) -> None:
    if trained.image_shape and n * math.prod(trained.image_shape) > MAX_PIXELS:
        raise ArgumentError(
            f"n = {n} images of {'x'.join(map(str, trained.image_shape))} would be over "
            f"{MAX_PIXELS} pixels: ask for fewer"
        )


def _scale(trained) -> int:
    return max(1, 64 // max(trained.image_shape[-2:]))


def _picture(trained, x: torch.Tensor, nrow: int | None) -> bytes:
    """A PNG of samples: a grid of images, or a scatter plot of points."""
    from advnets.figures.grid import png_bytes, tile

    if trained.image_shape:
        images = x.reshape(len(x), *trained.image_shape)
        return png_bytes(tile(images, nrow=nrow, scale=_scale(trained)))
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.add_subplot()
    if x.shape[1] == 1:
        ax.hist(x[:, 0].numpy(), bins=40, color="#3b6ea8")
    else:
        ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=6, color="#3b6ea8")
        ax.set_aspect("equal", adjustable="datalim")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _advnets_error(request: Request, err: Exception) -> Response:
    if isinstance(err, CheckpointNotFound):
        return _error(404, str(err))
    if isinstance(err, (ArgumentError, NotApplicable)):
        return _error(400, str(err))
    return _error(422, str(err))  # a damaged or foreign file


class Bounds:
    """ASGI middleware: GET and HEAD without a body and with a short query, else refused
    before the app sees the request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length", b"0")
            refusal = None
            if scope["method"] not in ("GET", "HEAD"):
                refusal = (405, "this page only reads: GET and HEAD requests")
            elif b"transfer-encoding" in headers or not length.isdigit() or int(length) > 0:
                refusal = (413, "requests carry no body here")
            elif len(scope.get("query_string", b"")) > MAX_QUERY:
                refusal = (414, f"the query string is over {MAX_QUERY} bytes")
            if refusal:
                await _error(*refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(root: str | Path, data_dir: str | None = None) -> Bounds:
    server = Server(Path(root), data_dir)
    api = "/api/entries/{name}"
    app = Starlette(
        routes=[
            Route("/", server.index),
            Route("/api/entries", server.list_entries),
            Route(api + "/curves", server.curves),
            Route(api + "/grids", server.grids),
            Route(api + "/grids/{grid}", server.grid),
            Route(api + "/model", server.model),
            Route(api + "/samples.png", server.samples),
            Route(api + "/interpolation.png", server.interpolation),
            Route(api + "/neighbours.png", server.neighbours),
            Mount("/static", StaticFiles(directory=STATIC)),
        ],
        exception_handlers={AdvnetsError: _advnets_error},
    )
    return Bounds(app)
