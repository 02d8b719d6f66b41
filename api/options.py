"""OPTIONS answers every method a path answers.

Litestar gives each path an OPTIONS handler whose `Allow` lists the methods of the
route it was created with; when a controller's handlers for one path are registered one
after another, the route is rebuilt with more methods but keeps the first OPTIONS
handler, still bound to the first, smaller route (`Allow: OPTIONS, POST` for a path
that answers GET too). Rebinding each such handler to its final route makes `Allow`
list exactly the methods the path answers, as the OpenAPI document does."""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def rebind_options(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            fn = getattr(handler.fn, "__wrapped__", handler.fn)
            if handler.http_methods != {"OPTIONS"} or fn.__name__ != "options_handler":
                continue
            for cell in fn.__closure__ or ():
                if isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route
