"""Model catalog: registry names map to the official Hub files; downloads fail with an actionable message."""

from __future__ import annotations

import os
import types
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import errors as hub_errors

from app import models_catalog as mc
from sam3core.factory import SAM2_MODELS, SAM3_MODELS


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MASKLET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MASKLET_MODELS_DIR", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path / "home" / "data" / "models"


@pytest.fixture
def hub_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the Hub's name resolves, so the call reaches the (mocked) Hub client."""
    monkeypatch.setattr(mc, "hub_unreachable_reason", lambda: None)


def _fail_if_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("the Hub client must not be called")


def test_catalog_covers_every_sam_engine_with_the_official_repos() -> None:
    assert set(mc.CATALOG) == set(SAM2_MODELS) | set(SAM3_MODELS)
    tiny = mc.CATALOG["sam2.1_hiera_tiny"]
    assert (tiny.repo_id, tiny.filename) == ("facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt")
    bplus = mc.CATALOG["sam2.1_hiera_base_plus"]
    assert (bplus.repo_id, bplus.filename) == ("facebook/sam2.1-hiera-base-plus", "sam2.1_hiera_base_plus.pt")
    sam3 = mc.CATALOG["sam3"]
    assert (sam3.repo_id, sam3.filename, sam3.gated) == ("facebook/sam3", "sam3.pt", True)
    assert not any(s.gated for n, s in mc.CATALOG.items() if n != "sam3")
    assert tiny.file_url == "https://huggingface.co/facebook/sam2.1-hiera-tiny/resolve/main/sam2.1_hiera_tiny.pt"


def test_unknown_name_is_a_clear_error(models: Path) -> None:
    with pytest.raises(mc.ModelDownloadError, match="sam2.1_hiera_tiny"):
        mc.download_model("sam9000")


def test_hf_hub_offline_fails_at_once_with_instructions(models: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", _fail_if_called)
    with pytest.raises(mc.ModelDownloadError) as info:
        mc.download_model("sam2.1_hiera_small")
    message = str(info.value)
    assert "HF_HUB_OFFLINE" in message
    assert "https://huggingface.co/facebook/sam2.1-hiera-small/resolve/main/sam2.1_hiera_small.pt" in message
    assert str(models) in message, "the message must say where to put a hand-downloaded file"
    assert not (models / "sam2.1_hiera_small.pt").exists()


def test_unresolvable_hub_fails_fast_without_retries(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise mc.socket.gaierror(-2, "Name or service not known")

    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(mc.socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", _fail_if_called)
    with pytest.raises(mc.ModelDownloadError, match="no network.*huggingface.co"):
        mc.download_model("sam2.1_hiera_tiny")


def test_client_offline_error_is_translated(models: Path, hub_resolves: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise hub_errors.LocalEntryNotFoundError("cannot find the requested files in the local cache")

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", offline)
    with pytest.raises(mc.ModelDownloadError, match="cannot reach the Hugging Face Hub") as info:
        mc.download_model("sam2.1_hiera_large")
    assert isinstance(info.value.__cause__, hub_errors.LocalEntryNotFoundError)
    assert "sam2.1_hiera_large.pt" in str(info.value)


def test_gated_sam3_says_how_to_get_access(models: Path, hub_resolves: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    response = types.SimpleNamespace(headers={}, request=None)

    def gated(*args: object, **kwargs: object) -> None:
        raise hub_errors.GatedRepoError("403 Client Error: access to model facebook/sam3 is restricted",
                                        response=response)

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", gated)
    with pytest.raises(mc.ModelDownloadError) as info:
        mc.download_model("sam3")
    message = str(info.value)
    assert "gated" in message and "https://huggingface.co/facebook/sam3" in message
    assert "hf auth login" in message and "HF_TOKEN" in message


def test_connection_error_is_translated(models: Path, hub_resolves: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", refused)
    with pytest.raises(mc.ModelDownloadError, match="Connection refused"):
        mc.download_model("sam2.1_hiera_tiny")


TINY = "facebook/sam2.1-hiera-tiny/sam2.1_hiera_tiny.pt"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201 - FakeHub
    """The real download code against a local Hub stand-in serving a 25 MB "checkpoint"."""
    from tests.hub_server import fake_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # The client reads HF_HUB_OFFLINE once, when first imported (maybe inside an offline test).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with fake_hub({TINY: os.urandom(25 * 2**20)}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_successful_download_lands_in_models_dir_and_reports_progress(models: Path, hub) -> None:  # noqa: ANN001
    seen: list[tuple[int, int]] = []
    path = mc.download_model("sam2.1_hiera_tiny", progress=lambda done, total: seen.append((done, total)))
    assert path == models / "sam2.1_hiera_tiny.pt"
    assert path.read_bytes() == hub.files[TINY]
    kib = 25 * 1024
    assert seen and seen[-1] == (kib, kib) and all(total == kib for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert mc.partial_download_bytes("sam2.1_hiera_tiny") == 0
    # Present now: a second call needs no network at all.
    requests = len(hub.ranges)
    assert mc.download_model("sam2.1_hiera_tiny") == path
    assert len(hub.ranges) == requests


def test_a_cancelled_download_keeps_its_bytes_and_the_next_one_resumes(models: Path, hub) -> None:  # noqa: ANN001
    class CancelledError(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        if done > 15 * 1024:  # the second 10 MB chunk (the client counts a chunk before writing it)
            raise CancelledError()

    with pytest.raises(CancelledError):
        mc.download_model("sam2.1_hiera_tiny", progress=cancel)
    assert not (models / "sam2.1_hiera_tiny.pt").exists(), "a partial file never takes the final name"
    kept = mc.partial_download_bytes("sam2.1_hiera_tiny")
    assert 0 < kept < len(hub.files[TINY])
    seen: list[int] = []
    path = mc.download_model("sam2.1_hiera_tiny", progress=lambda done, total: seen.append(done))
    assert hub.ranges[-1] == f"bytes={kept}-", "the second download asks only for the missing bytes"
    assert path.read_bytes() == hub.files[TINY]
    assert seen[0] > kept // 1024, "progress counts the resumed bytes as done"
    assert mc.partial_download_bytes("sam2.1_hiera_tiny") == 0


def test_a_changed_file_on_the_hub_starts_over_and_damage_is_caught(models: Path, hub) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError):
        mc.download_model("sam2.1_hiera_tiny", progress=lambda done, total: (_ for _ in ()).throw(
            RuntimeError("stop")) if done > 15 * 1024 else None)
    assert mc.partial_download_bytes("sam2.1_hiera_tiny") > 0
    hub.files[TINY] = os.urandom(3 * 2**20)  # a new upload: new ETag, the old bytes are useless
    path = mc.download_model("sam2.1_hiera_tiny")
    assert hub.ranges[-1] is None and path.read_bytes() == hub.files[TINY]
    path.unlink()
    hub.etag_override[TINY] = "f" * 64  # the Hub's SHA-256 does not match what arrives
    with pytest.raises(mc.ModelDownloadError, match="damaged"):
        mc.download_model("sam2.1_hiera_tiny")
    assert not path.exists() and mc.partial_download_bytes("sam2.1_hiera_tiny") == 0


def test_an_exception_from_the_progress_callback_reaches_the_caller_unchanged(models: Path, hub) -> None:  # noqa: ANN001
    class CancelledError(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise CancelledError()

    with pytest.raises(CancelledError):
        mc.download_model("sam2.1_hiera_tiny", progress=cancel)
    assert not (models / "sam2.1_hiera_tiny.pt").exists()


def test_offline_message_names_the_real_menu_path(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(mc.ModelDownloadError) as info:
        mc.download_model("sam2.1_hiera_tiny")
    assert "Engine ▸ Load checkpoint" not in str(info.value)  # a menu that never existed
    assert mc.ENGINE_MENU_PATH in str(info.value)  # tests/ui/test_ui_first_run.py: it is in the menu bar


def _official_layout_checkpoint(path: Path, name: str) -> Path:
    """A tiny file in the official ``{"model": state_dict}`` layout carrying the keys and shapes that
    identify ``name`` (Hiera trunk patch embedding and blocks for SAM 2.1, tracker/detector for SAM 3)."""
    import torch

    from sam3core.sam.network_config import SAM2_CONFIGS

    if name == "sam3":
        sd = {"tracker.maskmem_tpos_enc": torch.zeros(7, 1, 1, 64),
              "detector.backbone.vision_backbone.trunk.pos_embed": torch.zeros(1, 4, 8)}
    else:
        hiera = SAM2_CONFIGS[name].hiera
        sd = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(hiera.embed_dim, 3, 7, 7)}
        for block in range(sum(hiera.stages)):
            sd[f"image_encoder.trunk.blocks.{block}.norm1.weight"] = torch.ones(4)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": sd}, path)
    return path


def test_scan_finds_checkpoints_by_content_not_by_name(models: Path) -> None:
    pytest.importorskip("sam3core.sam.checkpoint")
    small = _official_layout_checkpoint(models / "renamed.pt", "sam2.1_hiera_small")
    large = _official_layout_checkpoint(models / "sam2" / "weights.pth", "sam2.1_hiera_large")
    sam3 = _official_layout_checkpoint(models / "sam3.pt", "sam3")
    (models / "broken.pt").write_bytes(b"this is not a checkpoint")
    (models / "notes.txt").write_text("not scanned")
    # Named like a tiny checkpoint, but holds a large one: content wins.
    lying = _official_layout_checkpoint(models / "sam2.1_hiera_tiny.pt", "sam2.1_hiera_large")
    found = dict(mc.scan_models_dir())
    assert found == {small: "sam2.1_hiera_small", large: "sam2.1_hiera_large", sam3: "sam3",
                     lying: "sam2.1_hiera_large"}
    assert (models / "broken.pt").exists(), "a bad file is skipped, never deleted"


def test_scan_of_an_empty_or_missing_folder(models: Path, tmp_path: Path) -> None:
    pytest.importorskip("sam3core.sam.checkpoint")
    assert mc.scan_models_dir() == []
    assert mc.scan_models_dir(tmp_path / "nowhere") == []
