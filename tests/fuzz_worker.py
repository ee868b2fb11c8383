"""``python tests/fuzz_worker.py KIND EXAMPLES WORKDIR``: feed ``masklet`` hypothesis-made COCO files, DAVIS
folders or prompts files and check each run ends in exit 0 or 2 (never an internal error, never a crash).

Run by tests/test_fuzz_inputs.py in a child process under an address-space limit, so an input that
made a library allocate without bound (the NaN polygon that grew to 24 GB) fails the test instead of
the machine. Prints one JSON line: examples run, exit codes seen, peak RSS.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from app.cli import main  # noqa: E402

H, W, FRAMES = 48, 64, 6
CODES: dict[int, int] = {}

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, W, H, W * H, 2**31, 2**63, 1e308, float("nan")]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=6), inner, max_size=5)), max_leaves=30)
polygon = st.lists(numbers, min_size=0, max_size=14)
counts_string = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=130), max_size=30)
segmentation = st.one_of(
    st.lists(polygon, max_size=4),
    st.fixed_dictionaries({"size": st.one_of(st.just([H, W]), json_values),
                           "counts": st.one_of(counts_string, st.lists(st.integers(-5, W * H + 5),
                                                                       max_size=8), json_values)}),
    json_values)
ids = st.one_of(st.integers(min_value=-(2**65), max_value=2**65), st.sampled_from([1, 2, 3]), json_values)
image = st.fixed_dictionaries({"id": ids, "frame_id": st.one_of(st.integers(-2, FRAMES + 2), json_values)},
                              optional={"width": st.sampled_from([W, 1, None]),
                                        "height": st.sampled_from([H, 0]), "file_name": st.text(max_size=12)})
annotation = st.fixed_dictionaries(
    {"image_id": ids, "segmentation": segmentation},
    optional={"id": ids, "category_id": ids, "track_id": ids, "instance_id": ids})
coco = st.one_of(
    st.fixed_dictionaries({"images": st.lists(image, max_size=4),
                           "annotations": st.lists(annotation, max_size=5)},
                          optional={"categories": st.one_of(st.lists(st.fixed_dictionaries(
                              {"id": ids, "name": scalars}), max_size=3), json_values)}),
    json_values)
# Prompts near the schema (so that many runs get as far as tracking) with hostile values mixed in.
coordinate = st.one_of(st.floats(0, W - 1), st.floats(0, H - 1), numbers)
point = st.one_of(st.lists(coordinate, min_size=2, max_size=2), st.lists(numbers, max_size=3))
prompt = st.fixed_dictionaries({"frame": st.one_of(st.integers(0, FRAMES - 1), st.integers(-1, FRAMES + 1),
                                                   json_values)},
                               optional={"points": st.lists(point, max_size=3),
                                         "labels": st.lists(st.one_of(st.sampled_from([0, 1]), scalars),
                                                            max_size=3),
                                         "box": st.one_of(st.lists(coordinate, min_size=4, max_size=4),
                                                          st.lists(numbers, max_size=5), json_values)})
valid_box = st.tuples(st.floats(0, W - 2), st.floats(0, H - 2)).flatmap(
    lambda xy: st.tuples(st.just(xy[0]), st.just(xy[1]), st.floats(xy[0] + 1, W), st.floats(xy[1] + 1, H)))
valid_clicks = st.lists(st.tuples(st.floats(0, W - 1), st.floats(0, H - 1), st.sampled_from([0, 1])),
                        min_size=1, max_size=3)
valid_prompt = st.one_of(
    st.builds(lambda f, b: {"frame": f, "box": list(b)}, st.integers(0, FRAMES - 1), valid_box),
    st.builds(lambda f, c: {"frame": f, "points": [[x, y] for x, y, _ in c], "labels": [v for *_, v in c]},
              st.integers(0, FRAMES - 1), valid_clicks))
# Mostly well-formed files, one hostile value here and there: many runs get as far as tracking.
object_id = st.one_of(st.integers(1, 4), st.integers(1, 4), ids)
prompts_file = st.one_of(
    st.fixed_dictionaries({"objects": st.lists(st.fixed_dictionaries(
        {"id": object_id, "prompts": st.lists(st.one_of(valid_prompt, valid_prompt, prompt), min_size=1,
                                              max_size=3, unique_by=lambda q: str(q.get("frame")))},
        optional={"name": st.one_of(st.text(max_size=8), scalars),
                  "color": st.sampled_from(["#ff0000", "red"])}),
        min_size=1, max_size=3, unique_by=lambda o: str(o["id"]))}),
    json_values)
png_bytes = st.one_of(
    st.binary(max_size=200).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
    st.tuples(st.sampled_from(["P", "L", "RGB", "1", "I;16"]), st.integers(1, 80), st.integers(1, 80),
              st.integers(0, 255)).map(lambda t: _png(*t)))


def _png(mode: str, height: int, width: int, value: int) -> bytes:
    size = (H, W) if value % 3 else (height, width)
    data = np.zeros(size, np.uint8)
    data[: size[0] // 2, : size[1] // 2] = value
    out = io.BytesIO()
    image = Image.fromarray(data, mode="L").convert(mode) if mode != "P" else Image.fromarray(data, mode="P")
    image.save(out, format="PNG")
    return out.getvalue()


def _run(args: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(args)
    CODES[code] = CODES.get(code, 0) + 1
    assert code in (0, 2), f"exit {code} for {args}: {err.getvalue()[-600:]}"


def fuzz(kind: str, examples: int, work: Path) -> None:
    from hostile import make_video

    from app.domain.project import Project

    video = make_video(work / "clip.mp4", frames=FRAMES)
    template = work / "template.masklet"
    with Project.create(template, video) as project:
        project.add_object("existing")
    project_path = work / "p.masklet"
    options = settings(max_examples=examples, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))

    def fresh() -> str:
        shutil.copyfile(template, project_path)
        return str(project_path)

    if kind == "coco":
        @options
        @given(st.one_of(coco, st.binary(max_size=100)))
        def check(data: object) -> None:
            file = work / "in.json"
            file.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
            _run(["import", fresh(), "--format", "coco", "--path", str(file)])
    elif kind == "davis":
        @options
        @given(st.dictionaries(st.sampled_from(["00000.png", "00001.png", "1.png", "00009.png", "x.png"]),
                               png_bytes, max_size=3))
        def check(files: dict[str, bytes]) -> None:
            folder = work / "Annotations" / "clip"
            shutil.rmtree(folder.parent, ignore_errors=True)
            folder.mkdir(parents=True)
            for name, data in files.items():
                (folder / name).write_bytes(data)
            _run(["import", fresh(), "--format", "davis", "--path", str(folder)])
    else:
        @options
        @given(st.one_of(prompts_file, st.binary(max_size=100)))
        def check(data: object) -> None:
            file = work / "prompts.json"
            file.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
            project_path.unlink(missing_ok=True)
            _run(["track", str(video), "--prompts", str(file), "--project", str(project_path)])
    check()


def peak_rss_mb() -> float:
    """This process's peak resident memory. ru_maxrss survives exec (it would report the forking
    parent's size, e.g. a pytest with torch loaded), so Linux's VmHWM of this address space comes first."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    fuzz(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
    print(json.dumps({"codes": CODES, "peak_rss_mb": round(peak_rss_mb())}))
