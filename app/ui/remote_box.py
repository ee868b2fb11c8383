"""The engine dialog's "remote (Ray)" part: run the chosen engine in an actor on a Ray cluster."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QWidget

from app.cluster.runtime import SOURCE_INSTALL_HINT, RemoteTarget, ray_available

ADDRESS_KEY = "engine/ray_address"


class RemoteEngineBox(QGroupBox):
    """A checkable group: address ("host:port", "ray://host:10001", empty = a local Ray instance) and
    whether the engine asks for a GPU. Disabled, saying why, where Ray is not available."""

    def __init__(self, current: RemoteTarget | None, parent: QWidget | None = None) -> None:
        super().__init__("Remote engine (Ray): run the model on a cluster node", parent)
        self.setCheckable(True)
        remembered = str(QSettings().value(ADDRESS_KEY, "") or "")
        self.address = QLineEdit((current.address or "") if current else remembered)
        self.address.setPlaceholderText("ray://127.0.0.1:10001 (an SSH tunnel); empty: a local instance")
        self.gpu = QCheckBox("Ask for a GPU on the cluster")
        self.gpu.setChecked(bool(current.num_gpus) if current else True)
        self.note = QLabel("The video is sent to the cluster once; every mask is saved here as it arrives. "
                           "See the README, \"Running on a Ray cluster\", for a safe set-up.")
        self.note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Address", self.address)
        form.addRow("", self.gpu)
        form.addRow(self.note)
        self.available = ray_available()
        if not self.available:
            self.setChecked(False)
            self.setEnabled(False)
            self.note.setText("Not available in this installation: Ray is missing. " + SOURCE_INSTALL_HINT)
        else:
            self.setChecked(current is not None)

    def target(self) -> RemoteTarget | None:
        """The chosen target, or None for "on this computer"."""
        if not (self.available and self.isChecked()):
            return None
        address = self.address.text().strip()
        QSettings().setValue(ADDRESS_KEY, address)
        return RemoteTarget(address or None, num_gpus=1.0 if self.gpu.isChecked() else 0.0)
