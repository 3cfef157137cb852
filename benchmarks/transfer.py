"""Time ear_transfer (rigid-sphere head) and farfield_transfer for a bundled array.

Default workload: the studio array, 512 frequencies up to 24 kHz, 256 couch-zone heads,
i.e. a (256, 512, 2, 5) complex ear-transfer tensor. Prints the median and minimum of a
few repeats, a breakdown of one call (geometry + piston path vs the head series), and
ear_transfer / farfield_transfer for every driver model with its ratio to the piston.

    python benchmarks/transfer.py [--array studio] [--freqs 512] [--listeners 256] [--repeats 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from _cli import make_parser, run  # noqa: E402  (also puts the checkout on sys.path)
from _timing import timed  # noqa: E402

import numpy as np  # noqa: E402

from common.errors import InputError  # noqa: E402
from models import (ear_transfer, farfield_transfer, get_zone, head_frames,  # noqa: E402
                    load_array, sample_listeners)
from models._head_sphere import SphereHead  # noqa: E402
from models.drivers import driver_model_names  # noqa: E402


def report(label: str, times: np.ndarray, note: str = "") -> None:
    print(f"{label:<44s} median {np.median(times):8.4f} s   min {times.min():8.4f} s{note}")


def main(args) -> int:
    if args.freqs < 1 or args.listeners < 1 or args.repeats < 1:
        raise InputError("--freqs, --listeners and --repeats must be at least 1")
    array = load_array(args.array)
    freqs = np.linspace(0.0, 24000.0, args.freqs)
    heads = sample_listeners(get_zone(args.zone), array.listener, args.listeners, seed=0)
    d = len(array.drivers)
    print(f"array {array.name} ({d} drivers), {args.freqs} frequencies 0-24 kHz, "
          f"{args.listeners} heads in zone {args.zone!r}, {args.repeats} repeats")

    report(f"ear_transfer sphere ({args.listeners}, {args.freqs}, 2, {d})",
           timed(lambda: ear_transfer(array, freqs, heads.positions_m, heads.facing), args.repeats))
    report("ear_transfer free field",
           timed(lambda: ear_transfer(array, freqs, heads.positions_m, heads.facing, head="free"),
                 args.repeats))
    offset = array.positions_m[None] - heads.positions_m[:, None]
    sources = np.einsum("pij,pdj->pdi", head_frames(heads.positions_m, heads.facing), offset)
    report("  of which the sphere series alone",
           timed(lambda: SphereHead().relative_response(freqs, sources, array.speed_of_sound_m_s),
                 args.repeats))
    azimuths = np.arange(-180.0, 180.0, 1.0)
    report(f"farfield_transfer ({args.freqs}, {azimuths.size}, {d})",
           timed(lambda: farfield_transfer(array, freqs, azimuths), args.repeats))
    print("driver models (sphere head; ratio of medians to piston):")
    base = {}
    for model in ["piston"] + [m for m in driver_model_names() if m != "piston"]:
        for call, fn in (("ear_transfer", lambda: ear_transfer(
                array, freqs, heads.positions_m, heads.facing, driver_model=model)),
                         ("farfield_transfer", lambda: farfield_transfer(
                             array, freqs, azimuths, driver_model=model))):
            times = timed(fn, args.repeats)
            base.setdefault(call, np.median(times))
            report(f"  {call} {model}", times, f"   x{np.median(times) / base[call]:5.2f}")
    return 0


if __name__ == "__main__":
    parser = make_parser(__doc__.splitlines()[0], prog="benchmarks/transfer.py")
    parser.add_argument("--array", default="studio", help="bundled array name or .toml path")
    parser.add_argument("--zone", default="couch", help="listening-zone preset")
    parser.add_argument("--freqs", type=int, default=512, help="number of frequencies")
    parser.add_argument("--listeners", type=int, default=256, help="number of listener heads")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats after a warm-up")
    sys.exit(run(main, parser))
