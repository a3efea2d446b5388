"""One PySD reference run in a fresh interpreter, for the batch engine's self-verification.

``python -m nea_sd.engine.pysd_worker JOB OUT``: JOB holds the pickled (model path, its
SHA-256, the parameter set, the outputs); the trajectories are pickled to OUT (and kept in the
references cache like any reference run).  A model file that changed since the caller hashed
it is refused.  Any failure exits non-zero; the caller then runs the set itself.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main(job: str, out: str) -> int:
    from nea_sd.engine.reference import reference_run
    from nea_sd.model import load_model

    path, sha256, overrides, names = pickle.loads(Path(job).read_bytes())
    model = load_model(path)
    if model.sha256 != sha256:
        return 3
    result = reference_run(model, overrides, names)
    Path(out).write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
