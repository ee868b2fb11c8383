"""Undoable review verdicts (Edit ▸ Undo takes back an accept like any edit). Qt-free."""

from __future__ import annotations

from app.domain import quality
from app.domain.commands import Command
from app.domain.project import Project
from app.domain.quality import Review
from app.domain.review import restore_reviews, review


class ReviewFrame(Command):
    """Accept the stored masks of ``obj_ids`` on ``frame``; ``fixed`` names those a person corrected."""

    def __init__(self, frame: int, obj_ids: list[int], fixed: set[int] | None = None) -> None:
        self.frame, self.obj_ids, self.fixed = frame, list(obj_ids), set(fixed or ())
        self.text = f"Accept frame {frame}" if len(self.obj_ids) != 1 else f"Accept object {self.obj_ids[0]}"
        self.before: list[Review] | None = None
        self.written: list[Review] = []

    def where(self) -> tuple[int, int | None]:
        return self.frame, self.obj_ids[0] if len(self.obj_ids) == 1 else None

    def do(self, project: Project) -> None:
        with project.batch():
            if self.before is None:
                with project.sql() as conn:
                    old = quality.read_reviews(conn, frame=self.frame)
                self.before = [r for r in old if r.obj_id in self.obj_ids]
            accepted = [o for o in self.obj_ids if o not in self.fixed]
            fixed = [o for o in self.obj_ids if o in self.fixed]
            self.written = review(project, self.frame, accepted, "accepted") + \
                review(project, self.frame, fixed, "fixed")

    def undo(self, project: Project) -> None:
        assert self.before is not None, "undo before do"
        restore_reviews(project, self.frame, self.obj_ids, self.before)
