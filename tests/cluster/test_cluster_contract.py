"""The engine contract suite (tests/test_engine_contract.py) run against remote engines: the classical
engine and a tiny random SAM 2.1 in a Ray actor, through :class:`RemoteEngine`. Same cases, same
expected exception types and results as the local engines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the contract module

import test_engine_contract as contract  # noqa: E402
from test_engine_contract import (  # noqa: E402, F401  (the cases, collected here with our engines)
    test_bad_frame_index,
    test_bad_mask,
    test_bad_object_id,
    test_bad_prompt,
    test_bad_propagation_arguments,
    test_box_after_clicks_needs_clear_old_points,
    test_declared_capabilities,
    test_default_start_is_the_earliest_prompted_frame_both_ways,
    test_frames_visited,
    test_mask_forms_accepted,
    test_propagating_without_prompts,
    test_remove_object_is_lenient_by_default,
    test_result_shapes,
    test_stopping_a_propagation_keeps_the_frames_done,
)

from app.cluster.files import describe  # noqa: E402
from app.cluster.recipe import EngineRecipe  # noqa: E402
from app.cluster.remote_engine import RemoteEngine  # noqa: E402
from app.cluster.runtime import RemoteTarget  # noqa: E402
from app.cluster.testing import TINY_MODEL, tiny_factory, write_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow
video_path = contract.video_path
state = contract.state


@pytest.fixture(scope="module")
def remote_engines(ray_cluster, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    tiny = write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.pt")
    made = {"remote classical": RemoteEngine(RemoteTarget(None), EngineRecipe()),
            "remote sam2.1_tiny": RemoteEngine(RemoteTarget(None),
                                               EngineRecipe(TINY_MODEL, describe(tiny), "cpu", tiny_factory))}
    yield made
    for engine in made.values():
        engine.shutdown()


@pytest.fixture(params=["remote classical", "remote sam2.1_tiny"])
def engine(request: pytest.FixtureRequest, remote_engines: dict) -> RemoteEngine:
    return remote_engines[request.param]


@pytest.fixture(scope="module", autouse=True)
def one_thread():  # noqa: ANN201
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
