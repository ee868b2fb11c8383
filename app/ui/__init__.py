"""The Qt layer of Masklet (views, controllers, the tracking worker)."""

from app.ui.qt_compat import make_none_immortal

make_none_immortal()  # before any PySide6 call from Python (see app/ui/qt_compat.py)
