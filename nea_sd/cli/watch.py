"""``nea-sd watch MODEL [--scenarios A,B]``: a page that re-lints and re-compares on every save."""

from __future__ import annotations

import argparse
import threading

from nea_sd.cli._common import add_model_argument, model_path
from nea_sd.errors import OutputPathError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="serve a page that re-lints and re-compares the model on every save",
        description=(
            "Open the printed address in a browser next to Vensim: on every save of the .mdl "
            "the page shows lint errors (with line numbers), the outcome table, the "
            "trajectories and what changed since the previous good save. A broken save shows "
            "its error and keeps the last good results. Stop with Ctrl-C."
        ),
    )
    add_model_argument(parser)
    parser.add_argument("--scenarios", help="comma-separated scenarios (default: all)")
    parser.add_argument("--scenarios-file", help="another scenario file")
    parser.add_argument("--port", type=int, default=8765, help="port on localhost (0: any free)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    parser.add_argument(
        "--no-loops", action="store_true", help="skip the loop dominance (Loops That Matter)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nea_sd.sketch.lint import check_model_file
    from nea_sd.watch import Watcher, serve

    path = check_model_file(model_path(args.model))
    names = [s.strip() for s in args.scenarios.split(",")] if args.scenarios else None
    watcher = Watcher(path, names, args.scenarios_file, args.interval, loops=not args.no_loops)
    try:
        server = serve(watcher, port=args.port)
    except OSError as exc:
        raise OutputPathError(
            f"cannot listen on port {args.port}: {exc.strerror}; choose another with --port"
        ) from None
    watcher.check()
    poller = threading.Thread(target=watcher.run, daemon=True)
    poller.start()
    print(f"watching {path}; open http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    finally:
        watcher.stop()
        server.server_close()
    return 0
