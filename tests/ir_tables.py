"""A plant written out as another tool would export it: one mono WAV per driver and ear
(or microphone) and the CSV table of scripts/import_irs.py naming them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from common.poses import pose_yaw_deg
from models import Array
from models.plant_sofa import MeasuredEars, MeasuredFarfield


def write_ir_table(folder: Path, plant: MeasuredEars | MeasuredFarfield, array: Array, *,
                   subtype: str = "FLOAT", rates: dict[int, int] | None = None) -> Path:
    """WAV files ``ir/<place>_<driver>_<ear>.wav`` of ``plant`` in ``subtype`` and the
    table ``irs.csv`` in ``folder``; ``rates`` {row: rate} (row 0 on the line after the
    header) writes those files at another rate (resampled with scipy.signal.resample_poly).
    Returns the table."""
    from scipy.signal import resample_poly

    (folder / "ir").mkdir(parents=True, exist_ok=True)
    far = isinstance(plant, MeasuredFarfield)
    if far:
        header = "file,driver,azimuth_deg,radius_m"
        places = [f"{float(az)!r},{float(r)!r}" for az, r in zip(plant.azimuth_deg, plant.radius_m)]
        irs = plant.ir[:, None]  # (R, 1, N, D)
    else:
        yaw = pose_yaw_deg(plant.listener_positions_m, plant.listener_views)
        header = "file,driver,ear,x_m,y_m,z_m,yaw_deg"
        places = [",".join(repr(float(v)) for v in (*p, y))
                  for p, y in zip(plant.listener_positions_m, yaw)]
        irs = plant.ir
    lines = [header]
    for m, place in enumerate(places):
        for r in range(irs.shape[1]):
            for d, driver in enumerate(array.drivers):
                ear = "" if far else ("left", "right")[r]
                name = f"ir/p{m}_{driver.name}{'_' + ear if ear else ''}.wav"
                data, rate = irs[m, r, :, d], int(plant.sample_rate_hz)
                other = (rates or {}).get(len(lines) - 1)
                if other is not None:
                    data, rate = resample_poly(data, other, rate) * rate / other, other
                sf.write(folder / name, data, rate, subtype=subtype)
                lines.append(f"{name},{driver.name}," + (f"{ear}," if ear else "") + place)
    table = folder / "irs.csv"
    table.write_text("\n".join(lines) + "\n")
    return table
