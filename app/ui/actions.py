"""Every user command of the window, declared once: text, shortcut, icon, tip and menu.

The main window builds its menus and toolbars from this table and connects each action by name;
Help > Shortcuts lists the same table, so the documented keys cannot drift from the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import qtawesome as qta
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    shortcut: str | tuple[str, ...] = ""
    icon: str = ""            # qtawesome name
    tip: str = ""
    menu: str = ""            # menu title it appears in ("" = none, e.g. keys only)
    checkable: bool = False

    @property
    def shortcuts(self) -> tuple[str, ...]:
        return (self.shortcut,) if isinstance(self.shortcut, str) and self.shortcut else tuple(self.shortcut)


F, E, V, T, OB, X, H = "&File", "&Edit", "&View", "&Tracking", "&Objects", "E&xport", "&Help"
RV, TL = "&Review", "T&ools"

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_video", "Open &video…", "Ctrl+O", "mdi6.movie-open", "Open a video file", F),
    ActionSpec("open_folder", "Open image &folder…", "Ctrl+Shift+O", "mdi6.folder-image",
               "Open a folder of numbered frames", F),
    ActionSpec("open_project", "Open &project…", "Ctrl+Alt+O", "mdi6.folder-open", "Open a .masklet project",
               F),
    ActionSpec("open_sample", "Open the &sample clip", "", "mdi6.movie-star",
               "The bundled 48-frame clip, to try Masklet without a video of your own", F),
    ActionSpec("save", "&Save", "Ctrl+S", "mdi6.content-save",
               "Every edit is saved at once; this confirms where", F),
    ActionSpec("save_as", "Save project &as…", "Ctrl+Shift+S", "mdi6.content-save-edit",
               "Copy the project to a new file and continue there", F),
    ActionSpec("save_copy", "Save a &copy…", "", "mdi6.content-copy",
               "A consistent copy of the project in one file (for a backup or to share); you keep "
               "working here", F),
    ActionSpec("import", "&Import annotations…", "Ctrl+I", "mdi6.import",
               "Import COCO, DAVIS, MOTS or YOLO masks", F),
    ActionSpec("quit", "&Quit", "Ctrl+Q", "mdi6.exit-to-app", "", F),
    ActionSpec("export_coco", "&COCO JSON…", "", "mdi6.code-json", "Masks as COCO RLE annotations", X),
    ActionSpec("export_davis", "&DAVIS PNG folder…", "", "mdi6.image-multiple", "Indexed PNG per frame", X),
    ActionSpec("export_ytvis", "&YouTube-VIS JSON…", "", "mdi6.code-json", "Video instance segmentation", X),
    ActionSpec("export_mots", "&MOTS folder…", "", "mdi6.image-multiple",
               "MOTS txt (RLE) and 16-bit PNGs", X),
    ActionSpec("export_yolo", "YO&LO segmentation dataset…", "", "mdi6.vector-polygon",
               "Ultralytics data.yaml, images and polygon labels", X),
    ActionSpec("export_sav", "&SA-V masklet JSON…", "", "mdi6.code-json",
               "Meta's SA-V per-video masklets", X),
    ActionSpec("export_overlay", "&Overlay video…", "Ctrl+E", "mdi6.filmstrip", "Video with masks drawn", X),
    ActionSpec("undo", "&Undo", "Ctrl+Z", "mdi6.undo", "", E),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "mdi6.redo", "", E),
    ActionSpec("clear_prompt", "Clear &prompt on this frame", "Backspace", "mdi6.broom",
               "Remove the active object's points/box on the current frame", E),
    ActionSpec("tool_prompt", "&Prompt tool", "Q", "mdi6.cursor-default-click",
               "Left click: positive point · right/Shift click: negative · drag: box", E, True),
    ActionSpec("tool_brush", "&Brush", "B", "mdi6.brush", "Paint the active object's mask", E, True),
    ActionSpec("tool_eraser", "&Eraser", "E", "mdi6.eraser", "Erase from the active object's mask", E, True),
    ActionSpec("tool_outline", "&Outline tool", "P", "mdi6.vector-polygon",
               "The active object's mask as polygons: drag a vertex, press on an edge to add one, "
               "right-click or Delete to remove one", E, True),
    ActionSpec("brush_bigger", "Brush bigger", "]", "", "", E),
    ActionSpec("brush_smaller", "Brush smaller", "[", "", "", E),
    ActionSpec("zoom_fit", "&Fit to window", "F", "mdi6.fit-to-screen", "", V),
    ActionSpec("zoom_100", "&100 %", "Ctrl+1", "mdi6.numeric-1-box-outline", "1 video pixel per screen pixel",
               V),
    ActionSpec("zoom_in", "Zoom &in", ("Ctrl++", "Ctrl+="), "mdi6.magnify-plus", "", V),
    ActionSpec("zoom_out", "Zoom &out", "Ctrl+-", "mdi6.magnify-minus", "", V),
    ActionSpec("outline", "&Outline masks", "O", "mdi6.border-outside",
               "Draw contours instead of filled masks", V, True),
    ActionSpec("play", "&Play / pause", "K", "mdi6.play", "Also: tap Space on the frame", V, True),
    ActionSpec("next_frame", "Next frame", ("Right", "D"), "mdi6.step-forward", "", V),
    ActionSpec("prev_frame", "Previous frame", ("Left", "A"), "mdi6.step-backward", "", V),
    ActionSpec("next_10", "Forward 10 frames", "Shift+Right", "mdi6.chevron-double-right", "", V),
    ActionSpec("prev_10", "Back 10 frames", "Shift+Left", "mdi6.chevron-double-left", "", V),
    ActionSpec("first_frame", "First frame", "Home", "mdi6.page-first", "", V),
    ActionSpec("last_frame", "Last frame", "End", "mdi6.page-last", "", V),
    ActionSpec("add_object", "&New object", "N", "mdi6.plus-box", "Add an object; it gets the next prompts",
               OB),
    ActionSpec("toggle_hidden", "&Hide / show active object", "H", "mdi6.eye-off", "", OB),
    ActionSpec("delete_object", "&Delete active object…", "Shift+Del", "mdi6.delete",
               "Delete the object and all its masks", OB),
    *(ActionSpec(f"select_object_{k}", f"Select object {k}", str(k), "", "", "") for k in range(1, 10)),
    ActionSpec("propagate_forward", "Propagate &forward", "Ctrl+Right", "mdi6.arrow-right-bold",
               "From the current frame to the end", T),
    ActionSpec("propagate_backward", "Propagate &backward", "Ctrl+Left", "mdi6.arrow-left-bold",
               "From the current frame to the start", T),
    ActionSpec("propagate_both", "Propagate &both ways", "Ctrl+Return", "mdi6.arrow-left-right-bold",
               "Forward to the end, then backward to the start", T),
    ActionSpec("propagate_next_prompt", "Forward to next &prompted frame", "Ctrl+Shift+Right",
               "mdi6.arrow-collapse-right", "Stop at the next frame that has prompts", T),
    ActionSpec("propagate_prev_prompt", "Backward to previous prompted frame", "Ctrl+Shift+Left",
               "mdi6.arrow-collapse-left", "Stop at the previous frame that has prompts", T),
    ActionSpec("propagate_to_frame", "Propagate &to frame…", "Ctrl+G", "mdi6.target",
               "Forward or backward to a frame you choose", T),
    ActionSpec("cancel", "&Cancel propagation", "Esc", "mdi6.stop",
               "Stops within a network block; the frame under way is dropped, the ones done are kept", T),
    ActionSpec("engine", "&Engine and model…", "Ctrl+M", "mdi6.chip", "Checkpoint, device, model download",
               T),
    ActionSpec("get_model", "&Get a model…", "", "mdi6.download",
               "Download SAM 2.1-tiny (resumable), or go on with the no-weights classical engine", T),
    ActionSpec("review_mode", "&Review mode", "Ctrl+R", "mdi6.clipboard-check-outline",
               "Step through the frames to review: accept each (Y) or fix it first", RV, True),
    ActionSpec("review_accept", "&Accept frame", "Y", "mdi6.check-all",
               "Every visible object's mask on this frame is correct; go to the next frame to review", RV),
    ActionSpec("review_accept_object", "Accept active &object", "Shift+Y", "mdi6.check",
               "The active object's mask on this frame is correct", RV),
    ActionSpec("review_clear", "&Withdraw review", "", "mdi6.close-circle-outline",
               "Forget the reviews of this frame's masks", RV),
    ActionSpec("review_next", "Next frame to review", "Ctrl+.", "mdi6.skip-next-outline", "", RV),
    ActionSpec("review_prev", "Previous frame to review", "Ctrl+,", "mdi6.skip-previous-outline", "", RV),
    ActionSpec("doubt_next", "Next &doubtful frame", ".", "mdi6.alert-circle-outline",
               "The next frame where the engine's confidence is below the threshold", RV),
    ActionSpec("doubt_prev", "Previous doubtful frame", ",", "mdi6.alert-circle-outline", "", RV),
    ActionSpec("review_panel", "Review &panel", "Ctrl+Shift+R", "mdi6.format-list-checks",
               "Reviewed counts and the list of doubtful frames", RV, True),
    ActionSpec("evaluate", "&Evaluate against ground truth…", "", "mdi6.chart-bar",
               "J, F and J&F per object against a DAVIS annotation folder; per-frame J in the timeline", TL),
    ActionSpec("clear_evaluation", "&Clear evaluation from the timeline", "", "mdi6.chart-bar-stacked",
               "The timeline lanes show the engine's confidence again", TL),
    ActionSpec("shortcuts", "&Keyboard shortcuts", "F1", "mdi6.keyboard-outline", "", H),
    ActionSpec("about", "&About Masklet", "", "mdi6.information-outline", "", H),
)

# Mouse gestures on the frame, listed with the keys in Help > Shortcuts.
GESTURES: tuple[tuple[str, str], ...] = (
    ("Left click", "Positive point for the active object"),
    ("Right click / Shift+click", "Negative point"),
    ("Left drag", "Box for the active object"),
    ("Mouse wheel", "Zoom around the cursor"),
    ("Middle drag / Space+drag", "Pan"),
    ("Tap Space", "Play / pause"),
    ("Outline tool: drag a vertex", "Move the mask's boundary there"),
    ("Outline tool: press on an edge", "Add a vertex (and drag it)"),
    ("Outline tool: right-click a vertex / Delete", "Remove the vertex (selected one for Delete)"),
)

MENUS: tuple[str, ...] = (F, E, V, OB, T, RV, TL, H)


def spec(name: str) -> ActionSpec:
    for item in ACTIONS:
        if item.name == name:
            return item
    raise KeyError(name)


def build_actions(parent: QWidget) -> dict[str, QAction]:
    """One QAction per table row, owned by ``parent`` (shortcuts work anywhere in the window)."""
    actions: dict[str, QAction] = {}
    for item in ACTIONS:
        action = QAction(item.text, parent)
        action.setObjectName(item.name)
        if item.icon:
            action.setIcon(qta.icon(item.icon))
        if item.shortcuts:
            action.setShortcuts([QKeySequence(s) for s in item.shortcuts])
        tip = item.tip or item.text.replace("&", "").rstrip("…")
        if item.shortcuts:
            tip += f"  ({', '.join(item.shortcuts)})"
        action.setToolTip(tip)
        action.setStatusTip(item.tip)
        action.setCheckable(item.checkable)
        parent.addAction(action)
        actions[item.name] = action
    return actions


class ShortcutsDialog(QDialog):
    """Help > Shortcuts: the action table and the mouse gestures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        def label(item: ActionSpec) -> str:
            text = item.text.replace("&", "").rstrip("…")
            return f"{item.menu.replace('&', '')} ▸ {text}" if item.menu else text

        rows = [(label(item), ", ".join(item.shortcuts)) for item in ACTIONS if item.shortcuts]
        rows += [(f"Frame: {what}", gesture) for gesture, what in GESTURES]
        table = QTableWidget(len(rows), 2, self)
        table.setHorizontalHeaderLabels(["Command", "Keys"])
        for r, (command, keys) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(command))
            table.setItem(r, 1, QTableWidgetItem(keys))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(24)
        table.resizeColumnToContents(1)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(520, 640)
        self.table = table
