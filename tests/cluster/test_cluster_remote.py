"""The remote engine against the local one on a real local Ray instance: errors of the same type,
videos through the object store when a worker cannot read them, compact masks, and a local instance
that listens on loopback only and refuses a caller without the token."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import psutil
import pytest

from app.cluster import files, wire
from app.cluster.host import EngineHost
from app.cluster.recipe import EngineRecipe
from app.cluster.remote_engine import RemoteEngine, connect_remote_engine
from app.cluster.runtime import RemoteTarget
from sam3core.factory import build_engine
from sam3core.video import VideoSource

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def remote(ray_cluster) -> RemoteEngine:  # noqa: ANN001
    engine = connect_remote_engine(RemoteTarget(None))
    yield engine
    engine.shutdown()


def _outcome(call) -> tuple[type, str]:  # noqa: ANN001
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the point is to compare what comes out
        return type(exc), str(exc)
    return type(None), "no error"


def test_engine_errors_keep_their_type_and_message(remote: RemoteEngine, make_video) -> None:  # noqa: ANN001
    video = make_video("v.avi", 6)
    local = build_engine(None)
    states = (local.init_state(video_path=video), remote.init_state(video_path=video))
    bad_calls = [  # whatever the local engine says to each, the remote one says too
        lambda e, s: list(e.propagate_in_video(s, start_frame_idx=0)),  # nothing prompted yet
        lambda e, s: e.add_new_points_or_box(s, 99, 1, points=[[5, 5]], labels=[1], rel_coordinates=False),
        lambda e, s: e.add_new_points_or_box(s, 0, -3, points=[[5, 5]], labels=[1], rel_coordinates=False),
        lambda e, s: e.add_new_points_or_box(s, 0, 1, points=[[float("nan"), 5]], labels=[1],
                                             rel_coordinates=False),
        lambda e, s: e.add_new_points_or_box(s, 0, 1, box=[50, 50, 10, 10], rel_coordinates=False),
        lambda e, s: e.add_new_points_or_box(s, 0, 1, points=[[5, 5], [6, 6]], labels=[1],
                                             rel_coordinates=False),
        lambda e, s: e.add_new_mask(s, 0, 1, np.ones((3, 3), bool)),
    ]
    outcomes = [(_outcome(lambda c=c: c(local, states[0])), _outcome(lambda c=c: c(remote, states[1])))
                for c in bad_calls]
    assert all(want == got for want, got in outcomes), [o for o in outcomes if o[0] != o[1]]
    assert sum(want[0] is not type(None) for want, _ in outcomes) >= 3, outcomes
    remote.close(states[1])


def test_masklet_track_on_the_cluster_writes_the_local_project(ray_cluster, make_clips, capsys) -> None:  # noqa: ANN001
    from app.cli import main
    from app.domain.project import Project

    _, videos = make_clips(1, frames=8, inline=False)
    video, prompts = str(videos[0]), str(videos[0].with_suffix(".json"))
    out = {}
    for name, extra in (("local", []), ("remote", ["--ray", "local"])):
        out[name] = videos[0].with_name(f"{name}.masklet")
        assert main(["track", video, "--prompts", prompts, "--project", str(out[name]), *extra]) == 0
    with Project.open(out["local"]) as a, Project.open(out["remote"]) as b:
        assert a.frames_stored() == b.frames_stored() == list(range(8))
        assert all([r.counts for r in a.mask_records(f)] == [r.counts for r in b.mask_records(f)]
                   for f in range(8))
    capsys.readouterr()
    assert main(["track", video, "--prompts", prompts, "--project", str(videos[0].with_name("gpu.masklet")),
                 "--ray", "local", "--ray-gpus", "1"]) == 2
    assert "the cluster has 0 GPU(s)" in capsys.readouterr().err
    assert not videos[0].with_name("gpu.masklet").exists()
    assert ray_cluster.is_connected()  # the command left the shared instance running


def test_session_calls_match_the_local_engine(remote: RemoteEngine, make_video) -> None:  # noqa: ANN001
    video = make_video("s.avi", 6, 3)
    square = np.pad(np.ones((10, 10), bool), ((5, 57), (5, 81)))
    results = []
    for engine in (build_engine(None), remote):
        state = engine.init_state(video_path=video)
        engine.add_new_points_or_box(state, 0, 1, points=[[19, 20]], labels=[1], rel_coordinates=False)
        engine.add_new_points_or_box(state, 2, 2, box=[62, 44, 88, 70], rel_coordinates=False)
        frame, ids, _, masks = engine.add_new_mask(state, 3, 3, square)
        got = {"mask": (frame, ids, (masks > 0).numpy().tolist())}
        remaining, updated = engine.remove_object(state, 1)
        got["removed"] = (remaining, [(f, (m > 0).numpy().tolist()) for f, m in updated])
        frames = engine.propagate_in_video(state, 2)
        got["tracked"] = [(f, i, (m > 0).numpy().tolist()) for f, i, _, m, _ in frames]
        engine.clear_all_points_in_video(state)
        engine.add_new_points_or_box(state, 1, 5, points=[[19, 20]], labels=[1], rel_coordinates=False)
        frames = engine.propagate_in_video(state, 1, max_frame_num_to_track=2)
        got["cleared"] = [(f, i) for f, i, *_ in frames]
        engine.reset_state(state)
        getattr(engine, "close", lambda s: None)(state)
        results.append(got)
    local, far = results
    assert len(local["tracked"]) == 4 and local["cleared"] == [(1, [5]), (2, [5]), (3, [5])]
    for key in local:
        assert local[key] == far[key], key


def test_a_video_the_worker_cannot_read_goes_through_the_object_store(ray_cluster, tmp_path,  # noqa: ANN001
                                                                       make_video) -> None:  # noqa: ANN001
    import ray

    folder = make_video("frames", 5, 1)
    real = files.describe(folder)
    away = dataclasses.replace(real, path=str(tmp_path / "elsewhere" / "frames"))  # not on "the worker"
    host = ray.remote(EngineHost).options(num_cpus=1, runtime_env={
        "env_vars": {"MASKLET_CLUSTER_CACHE": str(tmp_path / "cache")}}).remote()
    try:
        assert ray.get(host.locate.remote(away)) is None
        stored = ray.get(host.receive.remote(away, ray.put(files.pack(real))))
        assert stored.startswith(str(tmp_path / "cache")) and ray.get(host.locate.remote(away)) == stored
        info = ray.get(host.open_session.remote(EngineRecipe(), away))
        with VideoSource(stored) as copy, VideoSource(folder) as original:
            assert copy.fingerprint() == original.fingerprint()
        assert (info["num_frames"], info["height"], info["width"]) == (5, 72, 96)
        # The caller's own readable path is used as it is, nothing copied.
        assert ray.get(host.locate.remote(real)) == str(folder)
    finally:
        ray.kill(host)


def test_masks_travel_as_run_length_codes(remote: RemoteEngine, make_video) -> None:  # noqa: ANN001
    video = make_video("w.avi", 8, 2)
    state = remote.init_state(video_path=video)
    before = remote.stats.mask_bytes
    frame, ids, low, masks = remote.add_new_points_or_box(state, 0, 1, points=[[19, 20]], labels=[1],
                                                          rel_coordinates=False)
    assert (frame, ids) == (0, [1]) and masks.shape == (1, 1, 72, 96) and low.shape == (1, 1, 0, 0)
    assert set(masks.unique().tolist()) <= {-1.0, 1.0} and bool((masks > 0).any())
    frames = list(remote.propagate_in_video(state, start_frame_idx=0))
    assert [f[0] for f in frames] == list(range(8))
    per_frame = (remote.stats.mask_bytes - before) / (len(frames) + 1)
    assert per_frame < 72 * 96 / 8 / 2  # well under even a bit-packed mask
    payload = wire.encode_result(0, [1], masks)
    assert np.array_equal(wire.decode_masks(payload)[0], (masks[0, 0] > 0).numpy())
    remote.close(state)


def test_the_local_instance_listens_on_loopback_and_wants_the_token(ray_cluster) -> None:  # noqa: ANN001
    import ray

    if ray_cluster._current is None or not ray_cluster._current.started_here:
        pytest.skip("Ray was started by someone else in this session")
    address = ray.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")
    assert os.environ.get("RAY_AUTH_MODE") == "token" and os.environ.get("RAY_AUTH_TOKEN")
    listening = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("gcs_server", "raylet"):
            try:
                sockets = proc.net_connections("tcp")
                listening += [c.laddr.ip for c in sockets if c.status == psutil.CONN_LISTEN]
            except (psutil.AccessDenied, psutil.NoSuchProcess):
                continue
    assert listening and all(ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1") for ip in listening), listening
    # A caller without the token is refused.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN"] = "0" * 64
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # reach 127.0.0.1 as given (see runtime._loopback_only)
    env["RAY_gcs_server_port_wait_time_s"] = "2"  # two tries, not twenty
    probe = subprocess.run([sys.executable, "-c", f"import ray; ray.init(address={address!r}); print('IN')"],
                           env=env, capture_output=True, text=True, timeout=90)
    assert "IN" not in probe.stdout and probe.returncode != 0
    assert "auth" in (probe.stderr + probe.stdout).lower()
