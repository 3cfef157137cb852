"""Every new error path of the tracker options: play.py --tracker / --calibration /
--camera / --report and track.py, each exit 2 with one paragraph naming the argument or
the file and field, no traceback, nothing written (tests/test_bad_input.py's check)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bad_inputs import run_cli, run_cli_subprocess
from renderer.trackedbank import write_trackedbank
from renderer_fixtures import write_bank
from test_bad_input import check_failure
from tracked_fixtures import synthetic_tracked_bank


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tracker_inputs")
    sf.write(d / "song.wav", np.zeros((4800, 2)), 48000, subtype="FLOAT")
    (d / "frames").mkdir()
    (d / "empty").mkdir()
    (d / "junk.avi").write_bytes(b"not a video at all" * 50)
    (d / "bad_cal.toml").write_text("[opentrack]\nzero = [1, 2, nan, 4, 5, 6]\n")
    (d / "bad_camera.toml").write_text("[camera]\nposition_m = [0, 0, 0.1]\n"
                                       "horizontal_fov_deg = 200.0\nimage_size = [640, 480]\n"
                                       "face_width_m = 0.15\nhead_depth_m = 0.09\n")
    (d / "frames" / "broken.png").write_bytes(b"\x89PNG but not really")
    write_trackedbank(d / "tracked.npz", synthetic_tracked_bank(n_taps=32))
    write_bank(d / "plain.npz", n_taps=32)
    return {p.name: p for p in d.iterdir()}


def _play(case: str, f: dict[str, Path], out: Path) -> tuple[list[str], list[str]]:
    tracked = [str(f["song.wav"]), "--filters", str(f["tracked.npz"])]
    return {
        "unknown_tracker": ([*tracked, "--tracker", "kinect"],
                            ["--tracker", "unknown tracker 'kinect'", "opentrack[:PORT]"]),
        "bad_port": ([*tracked, "--tracker", "opentrack:70000"], ["--tracker", "65535"]),
        "plain_bank": ([str(f["song.wav"]), "--filters", str(f["plain.npz"]), "--tracker",
                        "opentrack"], ["--tracker", "plain.npz", "tracked bank"]),
        "both_osc_forms": ([*tracked, "--tracker", "osc", "--osc-port", "9000"],
                           ["--osc-port", "--tracker osc:PORT"]),
        "zero_without_tracker": ([*tracked, "--tracker-zero"],
                                 ["--tracker-zero", "needs --tracker"]),
        "zero_with_osc": ([*tracked, "--tracker", "osc:0", "--tracker-zero"],
                          ["--tracker-zero", "OSC", "device frame"]),
        "camera_not_webcam": ([*tracked, "--tracker", "opentrack:0", "--camera",
                               str(f["bad_camera.toml"])], ["--camera", "webcam"]),
        "bad_calibration": ([*tracked, "--tracker", "opentrack:0", "--calibration",
                             str(f["bad_cal.toml"])],
                            ["bad_cal.toml", "opentrack.zero[2]", "finite"]),
        "calibration_dir_missing": ([*tracked, "--tracker", "opentrack:0", "--calibration",
                                     str(out / "no" / "cal.toml")],
                                    ["cal.toml", "does not exist"]),
        "bad_camera": ([*tracked, "--tracker", "webcam", "--camera",
                        str(f["bad_camera.toml"])],
                       ["bad_camera.toml", "camera.horizontal_fov_deg", "<= 170"]),
        "no_camera": ([*tracked, "--tracker", "webcam:/dev/soundstage-no-camera"],
                      ["webcam:/dev/soundstage-no-camera", "cannot open the camera"]),
        "report_dir_missing": ([*tracked, "--report", str(out / "no" / "run.json")],
                               ["run.json", "does not exist"]),
        "report_is_dir": ([*tracked, "--report", str(out)], ["--report", "is a directory"]),
    }[case]


def _track(case: str, f: dict[str, Path], out: Path) -> tuple[list[str], list[str]]:
    target = ["--out", str(out / "poses.csv")]
    return {
        "input_without_out": (["--input", str(f["frames"])], ["--input", "--out"]),
        "missing_input": (["--input", str(out.parent / "absent.mp4"), *target],
                          ["absent.mp4", "no such video file or folder"]),
        "unreadable_video": (["--input", str(f["junk.avi"]), *target],
                             ["junk.avi", "not a readable video"]),
        "folder_without_images": (["--input", str(f["empty"]), *target],
                                  ["empty", "without images"]),
        "unreadable_image": (["--input", str(f["frames"]), *target],
                             ["broken.png", "not a readable image"]),
        "bad_seat": (["--input", str(f["frames"]), *target, "--seat", "2,0"],
                     ["--seat", "X,Y,Z"]),
        "bad_fps": (["--input", str(f["frames"]), *target, "--fps", "0"], ["--fps"]),
        "bad_camera": (["--input", str(f["frames"]), *target, "--camera",
                        str(f["bad_camera.toml"])], ["bad_camera.toml", "horizontal_fov_deg"]),
        "plain_bank_seat": (["--input", str(f["frames"]), *target, "--filters",
                             str(f["plain.npz"])], ["--filters", "plain filter bank"]),
        "bad_send": (["--send", "carrier-pigeon:9"], ["--send", "osc:[HOST:]PORT"]),
        "out_dir_missing": (["--input", str(f["frames"]), "--out",
                             str(out / "no" / "poses.csv")], ["poses.csv", "does not exist"]),
    }[case]


PLAY_CASES = ["unknown_tracker", "bad_port", "plain_bank", "both_osc_forms",
              "zero_without_tracker", "zero_with_osc", "camera_not_webcam", "bad_calibration",
              "calibration_dir_missing", "bad_camera", "no_camera", "report_dir_missing",
              "report_is_dir"]
TRACK_CASES = ["input_without_out", "missing_input", "unreadable_video",
               "folder_without_images", "unreadable_image", "bad_seat", "bad_fps",
               "bad_camera", "plain_bank_seat", "bad_send", "out_dir_missing"]
CASES = [("play", c) for c in PLAY_CASES] + [("track", c) for c in TRACK_CASES]


@pytest.mark.parametrize("cli,case", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_bad_tracker_input(cli: str, case: str, files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    argv, words = {"play": _play, "track": _track}[cli](case, files, out)
    code, err = run_cli(cli, argv)
    check_failure(code, err, words, out, cli)


def test_track_py_exit_code_on_the_real_command_line(files, tmp_path):
    result = run_cli_subprocess("track", ["--input", str(files["junk.avi"]), "--out",
                                          str(tmp_path / "poses.csv")])
    check_failure(result.returncode, result.stderr, ["junk.avi"], tmp_path, "track")


def test_no_face_in_a_recording_writes_nothing(tmp_path):
    import cv2

    (tmp_path / "blank").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "blank" / f"{i}.png"), np.full((480, 640), 90, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    code, err = run_cli("track", ["--input", str(tmp_path / "blank"), "--out",
                                  str(out / "poses.csv")])
    check_failure(code, err, ["no face found", "3 frames"], out, "track")
