"""Undo/redo of every domain command restores prompts and masks exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.domain.commands import (
    AddObject,
    DeleteObject,
    ReplaceFrames,
    SetMask,
    SetPrompt,
    UndoStack,
    UpdateObject,
)
from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.quality import MaskInfo, Origin
from app.domain.review import mask_info
from sam3core.video import write_video

H, W = 32, 48


def blob(y0: int, x0: int, size: int = 6) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y0 + size, x0:x0 + size] = True
    return mask


@pytest.fixture
def project(tmp_path: Path):
    video = write_video(tmp_path / "v.mp4", [np.full((H, W, 3), 40 * i, np.uint8) for i in range(4)])
    with Project.create(tmp_path / "p.masklet", video) as project:
        yield project


def state(project: Project) -> tuple:
    """Everything visible in the project, comparable with ==."""
    objects = tuple(project.objects())
    prompts = tuple((p, None if p.mask is None else p.mask.tobytes()) for p in project.prompts())
    masks = tuple((f, o, m.tobytes()) for f in range(project.num_frames)
                  for o, m in sorted(project.masks_on_frame(f).items()))
    return objects, prompts, masks


def check_undo_redo(stack: UndoStack, command, project: Project) -> None:
    before = state(project)
    stack.push(command)
    after = state(project)
    assert after != before
    stack.undo()
    assert state(project) == before
    stack.redo()
    assert state(project) == after
    stack.undo()
    assert state(project) == before
    stack.redo()


def test_add_update_delete_object(project: Project) -> None:
    stack = UndoStack(project)
    add = AddObject("dog", "animal")
    check_undo_redo(stack, add, project)
    assert add.obj_id == 1 and project.object(1).name == "dog"
    check_undo_redo(stack, UpdateObject(1, name="Rex", hidden=True), project)
    assert project.object(1).name == "Rex"
    project.set_prompt(Prompt(0, 1, ((3.0, 4.0),), (1,)))
    project.set_prompt(Prompt(2, 1, mask=blob(5, 5)))
    project.set_frame_masks(0, {1: blob(1, 1)})
    project.set_frame_masks(1, {1: blob(2, 2)})
    with_data = state(project)
    check_undo_redo(stack, DeleteObject(1), project)
    assert project.objects() == [] and project.prompts() == []
    stack.undo()
    assert state(project) == with_data


def test_set_prompt_restores_previous_prompt_and_mask(project: Project) -> None:
    stack = UndoStack(project)
    stack.push(AddObject())
    project.set_prompt(Prompt(1, 1, ((1.0, 1.0),), (1,)))
    project.set_mask(1, 1, blob(0, 0))
    before = state(project)
    command = SetPrompt(Prompt(1, 1, ((1.0, 1.0), (9.0, 9.0)), (1, 0)))
    stack.push(command)
    command.set_result(project, blob(10, 10))  # the engine's answer arrives after do
    after = state(project)
    stack.undo()
    assert state(project) == before
    assert np.array_equal(project.mask(1, 1), blob(0, 0))
    stack.redo()
    assert state(project) == after  # redo needs no engine run
    # A first prompt on an empty frame: undo removes prompt and mask again.
    check_undo_redo(stack, SetPrompt(Prompt(3, 1, box=(1.0, 1.0, 8.0, 8.0)), mask=blob(1, 1)), project)
    # Clearing a prompt is a SetPrompt with an empty prompt.
    check_undo_redo(stack, SetPrompt(Prompt(1, 1)), project)


def test_set_mask_becomes_the_mask_prompt_and_keeps_the_clicks_and_box(project: Project) -> None:
    stack = UndoStack(project)
    stack.push(AddObject())
    project.set_prompt(Prompt(2, 1, ((4.0, 4.0), (20.0, 9.0)), (1, 0), box=(1.0, 1.0, 30.0, 20.0)))
    project.set_mask(2, 1, blob(3, 3))
    painted = blob(3, 3) | blob(8, 8)
    check_undo_redo(stack, SetMask(2, 1, painted), project)
    assert np.array_equal(project.mask(2, 1), painted)
    prompt = project.prompt(2, 1)
    # The painted mask refines the prompt: the clicks and the box stay, the mask becomes its context.
    assert np.array_equal(prompt.mask, painted)
    assert prompt.points == ((4.0, 4.0), (20.0, 9.0)) and prompt.labels == (1, 0)
    assert prompt.box == (1.0, 1.0, 30.0, 20.0)
    stack.undo()
    assert project.prompt(2, 1) == Prompt(2, 1, ((4.0, 4.0), (20.0, 9.0)), (1, 0), box=(1.0, 1.0, 30.0, 20.0))
    assert project.prompt(2, 1).mask is None and np.array_equal(project.mask(2, 1), blob(3, 3))


def test_replace_frames_undoes_a_run_exactly_masks_provenance_and_absence(project: Project) -> None:
    stack = UndoStack(project)
    stack.push(AddObject())
    stack.push(AddObject())
    human = MaskInfo(1, 1, Origin("painted", detail="paint"))
    project.set_mask(1, 1, blob(3, 3), info=human)  # a person's mask the run replaces
    project.set_mask(2, 2, np.zeros((H, W), bool))  # "absent here", stored
    before = state(project)
    infos_before = {(f, o): mask_info(project, f, o) for f in range(4) for o in (1, 2)}
    run = ReplaceFrames(1, "Propagate forward from frame 1")
    for frame in (1, 2, 3, 1):  # "both ways" writes its start frame twice: the first state counts
        run.capture(project, frame, [1, 2])
        project.set_frame_masks(frame, {1: blob(frame, frame + 1), 2: blob(frame + 2, 0)},
                                infos=[MaskInfo(frame, o, Origin("tracked", "fake")) for o in (1, 2)])
    after = state(project)
    run.finish(project)
    stack.push(run)  # already stored: pushing writes nothing
    assert state(project) == after and run.frames == [1, 2, 3] and run.where() == (1, None)
    stack.undo()
    assert state(project) == before
    assert {(f, o): mask_info(project, f, o) for f in range(4) for o in (1, 2)} == infos_before
    assert project.mask(3, 1) is None and project.mask_record(2, 2) is not None
    stack.redo()
    assert state(project) == after and mask_info(project, 3, 2).origin.kind == "tracked"


def test_stack_bookkeeping(project: Project) -> None:
    stack = UndoStack(project, limit=2)
    assert not stack.can_undo() and not stack.can_redo()
    with pytest.raises(IndexError):
        stack.undo()
    for name in ("a", "b", "c"):
        stack.push(AddObject(name))
    assert stack.undo_text() == "Add c"
    stack.undo()
    stack.undo()
    assert not stack.can_undo()  # the oldest command fell off the limit
    assert [o.name for o in project.objects()] == ["a"]
    assert stack.can_redo() and stack.redo_text() == "Add b"
    stack.redo()
    stack.push(AddObject("d"))
    assert not stack.can_redo()
    stack.clear()
    assert not stack.can_undo()
